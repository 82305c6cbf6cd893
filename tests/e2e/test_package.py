"""The package as an operator gets it: the sdist and wheel built from this checkout carry the
web page, the catalogs and the styles; the wheel, installed without the chat extra in a
fresh venv, serves, says its version and revision, and its `tertulia chat` says in one line
that the full-screen client needs Textual while the line mode works without it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from served import LISTENING
from tertulia import __version__, version
from webclient import http

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = ROOT / "src" / "tertulia"
TEXTUAL_LINE = {
    "en": "tertulia: the terminal client needs Textual: pip install 'tertulia[chat]', "
    "or pipx inject tertulia textual",
    "es": "tertulia: el cliente de terminal necesita Textual: pip install 'tertulia[chat]', "
    "o pipx inject tertulia textual",
}
BUILD_TIMEOUT = 180


def _shipped() -> list[str]:
    """What the wheel must carry besides modules, as paths inside it: every file of the web
    page, every catalog, the Textual styles and py.typed."""
    found = [*(PACKAGE / "web").iterdir(), *(PACKAGE / "locale").glob("*/LC_MESSAGES/*.[mp]o")]
    found += [*(PACKAGE / "tui").glob("*.tcss"), PACKAGE / "py.typed"]
    names = [path.relative_to(PACKAGE.parent).as_posix() for path in found if path.is_file()]
    assert any(name.endswith(".mo") for name in names) and any(".tcss" in n for n in names)
    return sorted(name for name in names if not name.endswith(".py"))


def _program_env(**extra: str) -> dict[str, str]:
    """The environment of a program from the fresh venv: nothing of the test's own Python,
    never a TERTULIA_* setting, English unless told otherwise."""
    drop = ("TERTULIA_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update({"LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": ""}, **extra)
    return env


def _run(
    argv: list[str],
    timeout: float = BUILD_TIMEOUT,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _build(source: Path, outdir: Path, *which: str, env: dict[str, str] | None = None) -> None:
    _run([sys.executable, "-m", "build", *which, "--outdir", str(outdir), str(source)], env=env)


@pytest.fixture
def revision() -> str:
    """HEAD's short revision, as `git` says it."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`python -m build` on this checkout: the sdist, then the wheel built from it."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the build package is not installed (the dev extra brings it)")
    outdir = tmp_path_factory.mktemp("dist")
    _build(ROOT, outdir)
    (sdist,) = outdir.glob("tertulia-*.tar.gz")
    (wheel,) = outdir.glob("tertulia-*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def venv(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed as a server would have it: no chat extra.
    Its dependencies come from the package index, as `make test` gets its own."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    # No pip of its own: the test's pip installs into it (quicker than ensurepip).
    _run([sys.executable, "-m", "venv", "--without-pip", str(where)])
    python = where / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    _run([*pip, "--disable-pip-version-check", str(dist[1])])
    return where


def _files_of(archive: Path) -> list[str]:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.namelist()
    with tarfile.open(archive) as sdist:
        return [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]


def _read(archive: Path, name: str) -> str:
    with zipfile.ZipFile(archive) as wheel:
        return wheel.read(name).decode()


@pytest.mark.timeout(BUILD_TIMEOUT + 60)
def test_the_sdist_and_the_wheel_carry_the_page_the_catalogs_and_the_styles(
    dist: tuple[Path, Path], revision: str
) -> None:
    sdist, wheel = dist
    in_wheel, in_sdist = _files_of(wheel), _files_of(sdist)
    missing = [name for name in _shipped() if name not in in_wheel]
    assert not missing, f"not in the wheel: {missing}"
    missing = [name for name in _shipped() if f"src/{name}" not in in_sdist]
    assert not missing, f"not in the sdist: {missing}"
    for name in ("tertulia/locale/tertulia.pot", "tertulia/web/index.html"):
        assert name in in_wheel
    # The sdist rebuilds and checks the package: setup.py's hook, the tests, the docs.
    for name in ("setup.py", "MANIFEST.in", "pyproject.toml", "README.md", "tools/i18n.py"):
        assert name in in_sdist
    assert "tests/e2e/test_package.py" in in_sdist and "docs/operations.md" in in_sdist
    # What those tests read: the site's configuration, the service and container files.
    for name in (
        "mkdocs.yml",
        "packaging/systemd/tertulia.service",
        "packaging/container/Containerfile",
        "packaging/container/compose.yaml",
    ):
        assert name in in_sdist, name  # fmt: skip
    # Built from a checkout (through the sdist): the revision it was built from.
    assert f'REVISION = "{revision}"' in _read(wheel, "tertulia/_revision.py")
    assert not any(name.startswith("tertulia/tests") for name in in_wheel)


@pytest.mark.timeout(BUILD_TIMEOUT + 60)
def test_a_wheel_names_a_revision_only_when_built_from_a_checkout(
    dist: tuple[Path, Path], revision: str, tmp_path: Path
) -> None:
    # Straight from the checkout, without an sdist (as `pip wheel .` or `pipx install .`).
    _build(ROOT, tmp_path / "direct", "--wheel")
    (direct,) = (tmp_path / "direct").glob("*.whl")
    assert f'REVISION = "{revision}"' in _read(direct, "tertulia/_revision.py")
    # From sources outside any checkout: the sdist's files without the revision it carries.
    with tarfile.open(dist[0]) as sdist:
        sdist.extractall(tmp_path / "src", filter="data")
    (source,) = (tmp_path / "src").iterdir()
    (source / "src" / "tertulia" / "_revision.py").unlink()
    _build(source, tmp_path / "outside", "--wheel")
    (outside,) = (tmp_path / "outside").glob("*.whl")
    assert "tertulia/_revision.py" not in _files_of(outside)
    # Unless the build is told it, as the container build is (--build-arg).
    told = {**os.environ, "TERTULIA_REVISION": "cafe123"}
    _build(source, tmp_path / "told", "--wheel", env=told)
    (named,) = (tmp_path / "told").glob("*.whl")
    assert 'REVISION = "cafe123"' in _read(named, "tertulia/_revision.py")
    assert "tertulia/web/app.js" in _files_of(outside)


@pytest.mark.timeout(BUILD_TIMEOUT + 120)
async def test_the_wheel_serves_and_chats_in_lines_without_textual(
    venv: Path, revision: str, tmp_path: Path
) -> None:
    bin_ = venv / "bin"
    textual = await _exec(
        bin_ / "python", "-c", "import importlib.util as u; print(u.find_spec('textual'))"
    )
    assert textual == (0, "None\n", ""), "the wheel without the chat extra brought Textual"
    assert await _exec(bin_ / "tertulia", "--version") == (
        0,
        f"tertulia {__version__} (git {revision})\n",
        "",
    )

    # Without the cluster extra, a cluster is one line naming it, never a traceback.
    code, out, err = await _exec(
        bin_ / "tertulia", "serve", "--port", "0", "--no-irc", "--no-web",
        "--data-dir", str(tmp_path / "cluster"), "--cluster", "redis://127.0.0.1:1/0",
    )  # fmt: skip
    assert code == 1 and "listening" not in out, out
    assert "Traceback" not in err, err
    assert "pip install 'tertulia[cluster]'" in err.splitlines()[-1], err
    async with _serving(bin_ / "tertulia", tmp_path) as ports:
        # The line mode needs no Textual: it connects, says who you are, and leaves at the
        # end of its input.
        code, out, err = await _exec(
            bin_ / "tertulia", "chat", "--plain", "--port", str(ports["plain"]), "--nick", "ana",
            stdin=b"\n",
        )  # fmt: skip
        assert "Textual" not in err, err
        assert (code, err) == (0, ""), out
        assert "you are ana, in #lobby" in out


@contextlib.asynccontextmanager
async def _serving(program: Path, tmp_path: Path) -> AsyncIterator[dict[str, int]]:
    """`tertulia serve` from an installed program on free ports, once /healthz says ok: its
    ports by door."""
    serve = await asyncio.create_subprocess_exec(
        program, "serve", "--port", "0", "--irc-port", "0", "--web-port", "0",
        "--data-dir", str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env=_program_env(), cwd=tmp_path,
    )  # fmt: skip
    assert serve.stdout is not None
    try:
        ports: dict[str, int] = {}
        async with asyncio.timeout(20):
            while len(ports) < 3:
                line = (await serve.stdout.readline()).decode()
                match = LISTENING.match(line.strip())
                assert match, f"not a listening line: {line!r}"
                ports[match[1]] = int(match[3])
        reply = await http(ports["web"], "/healthz")
        assert reply.status == 200, reply
        assert json.loads(reply.body)["status"] == "ok", reply.body
        yield ports
    finally:
        if serve.returncode is None:
            serve.kill()
            await serve.wait()


@pytest.mark.timeout(BUILD_TIMEOUT + 120)
async def test_pipx_installs_a_tertulia_that_serves(
    dist: tuple[Path, Path], revision: str, tmp_path: Path
) -> None:
    # pipx as an operator runs it, kept inside tmp_path: its venvs and the program's link.
    home, bin_ = tmp_path / "pipx", tmp_path / "bin"
    env = _program_env(PIPX_HOME=str(home), PIPX_BIN_DIR=str(bin_),
                       PIPX_MAN_DIR=str(tmp_path / "man"))  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pipx", "install", str(dist[1])],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tertulia = bin_ / "tertulia"
    assert await _exec(tertulia, "--version") == (
        0,
        f"tertulia {__version__} (git {revision})\n",
        "",
    )
    async with _serving(tertulia, tmp_path) as ports:
        assert set(ports) == {"plain", "irc", "web"}


async def _exec(program: Path, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        program, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_program_env(), cwd=program.parent,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.timeout(BUILD_TIMEOUT + 120)
@pytest.mark.parametrize(("lang", "locale"), [("en", "C.UTF-8"), ("es", "es_ES.UTF-8")])
def test_chat_on_a_terminal_without_textual_says_so_in_one_line(
    venv: Path, lang: str, locale: str
) -> None:
    code, said = _on_a_terminal([str(venv / "bin" / "tertulia"), "chat"], _program_env(LANG=locale))
    assert code != 0
    assert said.splitlines() == [TEXTUAL_LINE[lang]], said


def _on_a_terminal(argv: list[str], env: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    """Run a program with a pseudo-terminal as its stdin, stdout and stderr; its exit code
    and everything it wrote there, once it has closed its end."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    said = b""
    deadline = time.monotonic() + timeout
    try:
        for chunk in _reads(leader, deadline):
            said += chunk
        return proc.wait(timeout=max(0.1, deadline - time.monotonic())), said.decode()
    except (TimeoutError, subprocess.TimeoutExpired):
        raise AssertionError(f"{argv} still running after {timeout} s; it said {said!r}") from None
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _reads(fd: int, deadline: float) -> Iterator[bytes]:
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the program and its children have closed the terminal
            return
        if not chunk:
            return
        yield chunk


def test_version_from_the_checkout_names_its_revision(revision: str, tmp_path: Path) -> None:
    # From elsewhere, so that it is the package's own place that counts, not the cwd.
    out = _run([sys.executable, "-m", "tertulia", "--version"], timeout=30, cwd=tmp_path)
    assert out == f"tertulia {__version__} (git {revision})\n"


def test_version_outside_a_checkout_says_only_the_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A tree that is not a checkout, and no revision written by a build (as in src/).
    monkeypatch.setattr(version, "SOURCE_ROOT", tmp_path)
    assert version.built_revision() == ""
    assert version.version_line() == f"tertulia {__version__}"
