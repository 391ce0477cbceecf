"""make lab in a real browser, used as a new student would: headless Chromium (Debian's chromium
and chromium-driver, driven by Selenium) opens a notebook's .py in a fresh checkout of the kit, on
the kit's kernel, runs its first cells, saves, adds a cell and takes it back. Opening and running
change no tracked byte, the edit is the only change git sees, and git status is clean after closing.

One test of about a minute, marked ``browser`` (``pytest -m browser`` runs it alone); make test
runs it once. Where Chromium is missing it is installed with apt-get (as root: CI, containers);
where it cannot be, the test is skipped and says why. Screenshots: build/lab-browser/."""

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jupytext
import nbformat
import pytest

from idl_utils.lab import KERNEL_DISPLAY_NAME, free_port
from idl_utils.tools.workcopy import install_output_filter, strip_outputs

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is missing (the dev extra has it)")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "02_text_to_text"  # its setup cells import idl_utils and print; nothing trains before them
TRACKED = [f"notebooks/{NOTEBOOK}.py", f"notebooks/{NOTEBOOK}.ipynb"]
SHOTS = ROOT / "build" / "lab-browser"
NOTE = "# a student's note"
STARTUP_SECONDS = 90  # JupyterLab's first start, and the kit's imports, on a busy 2-core machine
APT_PACKAGES = ["chromium", "chromium-driver"]

# JupyterLab 4's page, as a student sees it
KERNEL_NAME = ".jp-NotebookPanel-toolbar [data-jp-item-name=kernelName]"
KERNEL_STATUS = ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator"
CELL = ".jp-NotebookPanel .jp-Notebook .jp-Cell"
DIRTY_TAB = ".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty"
CLOSE_TAB = ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon"
LISTED = ".jp-DirListing-item .jp-DirListing-itemText"


def chromium_and_driver() -> tuple[str, str]:
    """Paths of chromium and chromedriver; Debian's packages are installed where they are missing
    and this process may (root, apt-get). ``playwright install`` and Selenium Manager would download
    browsers from their own sites, which machines with only package registries cannot reach."""
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if all(found):
        return found
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("headless Chromium is not installed and cannot be installed here (needs root and "
                    "apt-get): `apt-get install chromium chromium-driver` (Debian, Ubuntu) runs this test")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],  # the package lists: a fresh machine has none
                    ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300", *APT_PACKAGES]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"could not install Chromium ({' '.join(command)} exited {done.returncode}): "
                        + (done.stderr or done.stdout).strip()[-500:])
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if not all(found):
        pytest.skip(f"apt-get installed {' '.join(APT_PACKAGES)} but chromium/chromedriver are not on PATH")
    return found


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path):
    """A student's fresh clone, in small: the notebook pair, the files that configure jupytext and
    git, committed through the filter make setup installs, and checked out again."""
    repo = tmp_path / "idl-kit"
    for name in [".gitignore", ".gitattributes", "pyproject.toml", *TRACKED]:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, repo / name)
    git(repo, "init", "-q")
    assert install_output_filter(repo, sys.executable)
    git(repo, "add", ".")
    git(repo, "-c", "user.name=student", "-c", "user.email=student@example.invalid", "commit", "-qm", "clone")
    for name in TRACKED:  # as a clone has them: what git stores, whatever the working tree held
        (repo / name).unlink()
    git(repo, "checkout", "--", *TRACKED)
    return repo


class Student:
    """The browser, and what a student checks by eye."""

    def __init__(self, driver, repo: Path, log: Path):
        self.driver, self.repo, self.log = driver, repo, log

    def find(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, condition, what: str, timeout: float = STARTUP_SECONDS):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if value := condition():
                    return value
            except Exception:  # noqa: BLE001 - the page is still changing under the query: ask again
                pass
            time.sleep(0.25)
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / "failed.png"))
        pytest.fail(f"{what}: not within {timeout:.0f} s (screenshot: {SHOTS / 'failed.png'}; "
                    f"JupyterLab's log ends: {self.log.read_text()[-1500:]})")

    def keys(self, *keys: str, holding: str | None = None) -> None:
        """Type ``keys``, each while ``holding`` (Keys.SHIFT, Keys.CONTROL) is down."""
        chain = ActionChains(self.driver)
        for key in keys:
            if holding:
                chain.key_down(holding).send_keys(key).key_up(holding)
            else:
                chain.send_keys(key)
        chain.perform()

    def save(self) -> None:
        """Ctrl+S, then wait until both twins are written and the tab says so."""
        before = {name: (self.repo / name).stat().st_mtime_ns for name in TRACKED}
        self.keys("s", holding=Keys.CONTROL)
        self.wait_for(lambda: not self.find(DIRTY_TAB) and all(
            (self.repo / name).stat().st_mtime_ns != mtime for name, mtime in before.items()),
            "the notebook saved", timeout=60)

    def git_status(self, expected: str, what: str) -> None:
        """Wait for ``git status --porcelain`` to say ``expected``: the lab re-adds a notebook whose
        save changed only outputs in the background."""
        self.wait_for(lambda: git(self.repo, "status", "--porcelain") == expected, what, timeout=60)

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / name))
        return SHOTS / name


def cells_of(nb) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def test_a_student_opens_runs_and_edits_a_notebook_in_a_real_browser(checkout, tmp_path):
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (extras: lab, dev)")
    chromium, chromedriver = chromium_and_driver()
    started = time.monotonic()
    repo = checkout
    committed = {name: (repo / name).read_text() for name in TRACKED}
    cells = cells_of(jupytext.reads(committed[TRACKED[0]], fmt="py:percent"))
    # the first cells: up to the setup cell (the hygiene tests make sure every notebook has one)
    first = 1 + next(i for i, (kind, source) in enumerate(cells)
                     if kind == "code" and "start_notebook(" in source)

    port, runtime = free_port(preferred=0), tmp_path / "jupyter"
    env = {**os.environ, "IDL_PROFILE": "smoke", "JUPYTER_RUNTIME_DIR": str(runtime / "runtime"),
           # a student's first lab: no settings or open tabs from an earlier session
           "JUPYTERLAB_SETTINGS_DIR": str(runtime / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(runtime / "workspaces")}
    runtime.mkdir()
    printed, log = runtime / "make-lab.out", runtime / "server.log"
    with printed.open("w") as out, log.open("w") as err:
        lab = subprocess.Popen([sys.executable, "-m", "idl_utils.lab", "--no-browser", "--port", str(port),
                                "--notebooks", str(repo / "notebooks")], env=env, stdout=out, stderr=err)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--window-size=1280,860", f"--user-data-dir={tmp_path}/browser"]:
        options.add_argument(argument)
    driver = None
    try:
        # the driver path given: Selenium Manager (a download) is never asked
        service = webdriver.ChromeService(executable_path=chromedriver)
        driver = webdriver.Chrome(service=service, options=options)
        student = Student(driver, repo, log)
        url = student.wait_for(lambda: next((line.strip() for line in printed.read_text().splitlines()
                                             if "/lab?token=" in line), None), "make lab printed its address")
        status = url.replace("/lab?", "/api/status?")
        student.wait_for(lambda: urllib.request.urlopen(status, timeout=5).status == 200, "the lab answered")
        driver.get(url.replace("/lab?", f"/lab/tree/{NOTEBOOK}.py?"))

        # the .py opens as a notebook on the kit's kernel, and the list offers no .ipynb twin to open too
        student.wait_for(lambda: student.find(KERNEL_NAME)[0].text.strip() == KERNEL_DISPLAY_NAME,
                         f"the notebook opened on the kernel {KERNEL_DISPLAY_NAME!r}")
        student.wait_for(lambda: student.find(KERNEL_STATUS)[0].get_attribute("data-status") == "idle",
                         "the kernel started")
        listed = student.wait_for(lambda: [item.text for item in student.find(LISTED)], "the file list")
        assert f"{NOTEBOOK}.py" in listed and f"{NOTEBOOK}.ipynb" not in listed, listed
        student.save()  # what autosave would do two minutes later
        assert {name: (repo / name).read_text() for name in TRACKED} == committed, "opening changed the files"
        student.screenshot(f"{NOTEBOOK}-opened.png")

        # run the first cells, add a cell, save: outputs stay in the working copy, git sees the edit only
        student.find(CELL)[0].find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()  # not the Colab link
        student.keys(*[Keys.ENTER] * first, holding=Keys.SHIFT)  # run the cell, select the next one
        prompt = student.find(CELL)[first - 1].find_element(By.CSS_SELECTOR, ".jp-InputPrompt")
        student.wait_for(lambda: prompt.text.strip() not in ("", "[ ]:", "[*]:"), "the setup cell ran", 180)
        student.wait_for(lambda: student.find(KERNEL_STATUS)[0].get_attribute("data-status") == "idle",
                         "the kernel is idle again")
        student.screenshot(f"{NOTEBOOK}-ran.png")
        student.keys(Keys.ESCAPE, "b", Keys.ENTER, NOTE, Keys.ESCAPE)  # b: a new cell below; Enter: edit it
        student.save()
        ran = nbformat.reads((repo / TRACKED[1]).read_text(), as_version=4)
        executed = [cell for cell in ran.cells[:first] if cell.cell_type == "code"]
        assert all(cell.execution_count for cell in executed), "the first cells did not all run"
        outputs = [output for cell in executed for output in cell.outputs]
        assert not [o for o in outputs if o.output_type == "error"], outputs
        assert "smoke" in "".join(o.get("text", "") for o in outputs), "the setup cell printed no profile"
        expected = cells[:first + 1] + [("code", NOTE)] + cells[first + 1:]
        assert cells_of(jupytext.read(repo / TRACKED[0])) == expected
        stored = nbformat.reads(strip_outputs((repo / TRACKED[1]).read_text()), as_version=4)  # what git sees
        assert cells_of(stored) == expected
        assert stored.metadata == nbformat.reads(committed[TRACKED[1]], as_version=4).metadata
        student.git_status("".join(f" M {name}\n" for name in sorted(TRACKED)), "git status: the twins")

        # take the edit back, save and close: git status is clean, the outputs are still in the file
        student.keys(Keys.ESCAPE, "d", "d")  # delete the selected cell
        student.save()
        student.find(CLOSE_TAB)[0].click()
        student.wait_for(lambda: not student.find(".jp-NotebookPanel"), "the notebook closed", timeout=30)
        student.git_status("", "git status clean after closing")
    finally:
        if driver is not None:
            driver.quit()
        lab.terminate()
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / TRACKED[0]).read_text() == committed[TRACKED[0]]  # the .py never holds outputs
    assert '"output_type"' in (repo / TRACKED[1]).read_text()
    print(f"browser test: {time.monotonic() - started:.0f} s; screenshots in {SHOTS}")
