"""Rebuild ``sample/`` from the pinned corpus: ``python tests/corpus/make_sample.py``.

Copies each file of ``SELECTION`` from the pinned packages (``environment.py``) or the running
interpreter's standard library into ``sample/<label>.txt`` (``.txt``: pytest, ruff and editors
leave them alone; ``sample/.gitattributes`` keeps git from touching their bytes), copies the
license files of their distributions into ``sample/LICENSES/``, and writes ``sample/MANIFEST.toml``
with where each came from and the outcome the engine gives today (review it: the default-run
test ``tests/test_corpus.py::test_pinned_sample`` then requires it).
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import test_corpus  # noqa: E402
from corpus.environment import pinned_site_packages  # noqa: E402

from codetrace._discover import module_name_for  # noqa: E402

SAMPLE = HERE / "sample"
SUBPROCESS = "subprocess-rule.toml"

# (label, extra rule file or "", why it is here)
SELECTION: list[tuple[str, str, str]] = [
    # libcst cannot parse it (LibCST#1011: parenthesised annotated-assignment target)
    ("stdlib/test/typinganndata/ann_module.py", "", "LibCST#1011"),
    ("stdlib/test/test_grammar.py", "", "LibCST#1011, among the whole grammar"),
    # libcst does not round-trip it (LibCST#1457: `except X :` loses its space); only a file
    # codetrace would rewrite meets it (an unchanged file is never written back)
    ("stdlib/webbrowser.py", SUBPROCESS, "LibCST#1457, rewritten by a user rule"),
    # libcst recursion limit: 750 KB of string concatenation, the only such real file known
    ("stdlib/pydoc_data/topics.py", "", "recursion limit"),
    # Python rejects it
    ("stdlib/lib2to3/tests/data/bom.py", "", "UTF-8 BOM, Python 2 print statement"),
    ("stdlib/lib2to3/tests/data/crlf.py", "", "CRLF newlines, Python 2"),
    ("stdlib/lib2to3/tests/data/different_encoding.py", "", "coding cookie, Python 2"),
    ("stdlib/lib2to3/tests/data/false_encoding.py", "", "cookie-like line, Python 2"),
    ("stdlib/lib2to3/tests/data/py2_test_grammar.py", "", "the Python 2 grammar"),
    ("stdlib/test/tokenizedata/badsyntax_3131.py", "", "invalid character in an identifier"),
    # does not decode
    ("stdlib/test/tokenizedata/bad_coding.py", "", "unknown encoding in the cookie"),
    ("stdlib/test/tokenizedata/bad_coding2.py", "", "UTF-8 BOM with a non-UTF-8 cookie"),
    ("stdlib/test/tokenizedata/badsyntax_pep3120.py", "", "bytes that are not UTF-8, no cookie"),
    # instrumented by the built-in rules
    ("stdlib/test/test_sqlite3/test_dump.py", "", "sqlite3"),
    ("stdlib/test/test_sqlite3/test_backup.py", "", "sqlite3"),
    ("stdlib/test/test_sqlite3/test_factory.py", "", "sqlite3, factories"),
    ("stdlib/test/test_sqlite3/test_hooks.py", "", "sqlite3, callbacks"),
    ("stdlib/test/test_sqlite3/test_transactions.py", "", "sqlite3, transactions"),
    ("stdlib/test/audit-tests.py", "", "sqlite3 among audit hooks"),
    ("site-packages/django/db/backends/sqlite3/creation.py", "", "sqlite3 in django"),
    ("site-packages/django/db/backends/sqlite3/base.py", "", "sqlite3 in django"),
    ("site-packages/sqlalchemy/dialects/sqlite/pysqlite.py", "", "sqlite3 in sqlalchemy"),
    ("site-packages/mypy/metastore.py", "", "sqlite3 in mypy"),
    ("site-packages/requests_mock/mocker.py", "", "requests.Session"),
    ("site-packages/requests_oauthlib/oauth1_session.py", "", "requests.Session subclass"),
    ("site-packages/requests_oauthlib/oauth2_session.py", "", "requests.Session subclass"),
    ("site-packages/redis/ocsp.py", "", "requests in redis"),
    # instrumented by a user rule
    ("stdlib/ctypes/util.py", SUBPROCESS, "subprocess calls, a user rule"),
    # no error: odd encodings and layouts, and files that mention a library but do not call it
    ("site-packages/requests/api.py", "",
     "requests' own module: the requests rules do not act in it"),
    ("stdlib/test/tokenizedata/coding20731.py", "", "CRLF before the coding cookie"),
    ("stdlib/test/encoded_modules/module_iso_8859_1.py", "", "latin-1 cookie"),
    ("stdlib/test/encoded_modules/module_koi8_r.py", "", "koi8-r cookie"),
    ("stdlib/test/test_unicode_identifiers.py", "", "non-ASCII identifiers"),
    ("site-packages/libcst/tests/test_roundtrip.py", "", "CRLF newlines"),
    ("site-packages/pygments/lexers/_luau_builtins.py", "", "no final newline, tabs"),
    ("site-packages/pygments/lexers/codeql.py", "", "no final newline"),
    ("site-packages/pathspec/patterns/gitignore/__init__.py", "", "tab indentation"),
    ("site-packages/opentelemetry/sdk/environment_variables/_internal.py", "", "match"),
    ("site-packages/django/utils/choices.py", "", "match statement"),
    ("site-packages/flask/__init__.py", "", "flask's own package"),
    ("site-packages/httpx/_api.py", "", "httpx's own module: the httpx rules do not act in it"),
    ("site-packages/requests/__init__.py", "", "requests' own package"),
    ("site-packages/requests/sessions.py", "", "requests.Session itself"),
    ("site-packages/urllib3/poolmanager.py", "", "an HTTP client that is not a rule's"),
    ("stdlib/sqlite3/dump.py", "", "the sqlite3 package itself"),
    ("stdlib/sqlite3/__init__.py", "", "the sqlite3 package itself"),
    ("stdlib/http/client.py", "", "an HTTP client that is not a rule's"),
]

LICENSES = {"stdlib": "PSF-2.0"}


def _distributions(site_packages: Path) -> dict[str, tuple[str, str, Path]]:
    """Relative file path → (distribution, version, dist-info folder), from the RECORD files."""
    owners: dict[str, tuple[str, str, Path]] = {}
    for info in site_packages.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
            owners[line.split(",", 1)[0]] = (name, version, info)
    return owners


def _license_of(info: Path) -> str:
    for line in (info / "METADATA").read_text(encoding="utf-8").splitlines():
        if line.startswith(("License-Expression:", "License:")) and len(line) < 80:
            return line.split(":", 1)[1].strip()
    classifiers = [line.rsplit("::", 1)[1].strip()
                   for line in (info / "METADATA").read_text(encoding="utf-8").splitlines()
                   if line.startswith("Classifier: License ::")]
    return classifiers[0] if classifiers else "see LICENSES/"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def main() -> None:
    site_packages = pinned_site_packages()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    owners = _distributions(site_packages)
    python = f"CPython {platform.python_version()}"
    if SAMPLE.exists():
        for old in SAMPLE.iterdir():
            if old.is_dir():
                shutil.rmtree(old)
            elif old.name not in (".gitattributes", "README.md", SUBPROCESS):
                old.unlink()
    lines = ["# Written by tests/corpus/make_sample.py; see README.md.", ""]
    for label, rules, why in SELECTION:
        root_name, _, relative = label.partition("/")
        source = (site_packages if root_name == "site-packages" else stdlib) / relative
        target = SAMPLE / f"{label}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if root_name == "stdlib":
            origin = f"{python} standard library, Lib/{relative}"
            license_name = LICENSES["stdlib"]
            folder = SAMPLE / "LICENSES" / f"cpython-{platform.python_version()}"
            if not folder.exists():
                folder.mkdir(parents=True)
                shutil.copyfile(stdlib / "LICENSE.txt", folder / "LICENSE.txt")
        else:
            dist, version, info = owners[relative]
            origin = f"{dist} {version} (wheel), {relative}"
            license_name = _license_of(info)
            folder = SAMPLE / "LICENSES" / f"{dist}-{version}"
            if not folder.exists():
                folder.mkdir(parents=True)
                for found in sorted(info.rglob("*")):
                    if found.is_file() and ("LICEN" in found.name.upper()
                                            or "COPYING" in found.name.upper()
                                            or "licenses" in found.parts):
                        shutil.copyfile(found, folder / found.name)
        module, package = module_name_for(source)
        entry = {"source": label, "file": f"{label}.txt", "origin": origin,
                 "license": license_name, "module": module}
        if package:
            entry["package"] = True
        if rules:
            entry["rules"] = rules
        outcome = test_corpus.check_sample(entry)
        assert not outcome.problems, (label, outcome.problems)
        expect = (outcome.kind if outcome.status == "error"
                  else "instrumented" if outcome.status == "changed" else "no error")
        entry |= {"expect": expect, "why": why,
                  "sha256": hashlib.sha256(target.read_bytes()).hexdigest()}
        lines.append("[[file]]")
        lines += [f"{key} = {_toml(value)}" for key, value in entry.items()]
        lines.append("")
        print(f"{expect:32} {label}")
    (SAMPLE / "MANIFEST.toml").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
