"""docs/sandbox.md against the code: the card table and the fault switches cannot drift."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from flask_halyk.sandbox import CARDS, Faults, Options

DOC = (Path(__file__).parents[2] / "docs" / "sandbox.md").read_text(encoding="utf-8")


def test_card_table_is_the_code_table():
    rows = re.findall(r"^\| ((?:\d{4} ){3}\d{4}) \| ([^|]+) \| ([^|]+) \|$", DOC, re.M)
    documented = {pan.replace(" ", ""): (result.strip(), codes.strip()) for pan, result, codes
                  in rows}
    assert set(documented) == set(CARDS)
    for pan, behaviour in CARDS.items():
        result, codes = documented[pan]
        if behaviour.three_ds:
            assert codes == f"{behaviour.reason_code} / 473" and "123456" in result, pan
        else:
            assert codes == str(behaviour.reason_code), pan
            assert result.startswith("approved" if behaviour.approved else "declined"), pan


def test_every_fault_switch_is_documented():
    table = DOC.split("## Fault switches", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", table)) - {"reset"}
    assert documented == {f.name for f in fields(Faults)}


def test_every_option_is_documented_and_in_the_fidelity_table():
    table = DOC.split("## Options", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    assert documented == {f.name for f in fields(Options)}
    fidelity = DOC.split("## Fidelity", 1)[1].split("\n## ", 1)[0]
    switches = set(re.findall(r"\| `([a-z_]+)` \|$", fidelity, re.M))
    assert switches == documented
    for row in re.findall(r"^\| (?!behaviour|---).+\|$", fidelity, re.M):
        assert re.search(r"\[(VENDOR|VENDOR-SDK|CODE|INFER)\]|not published|not emulated|"
                         r"the sandbox's own", row), row


def test_every_named_card_is_documented():
    from flask_halyk.sandbox import cards

    testing = (Path(__file__).parents[2] / "docs" / "testing.md").read_text(encoding="utf-8")
    names = [name for name, value in vars(cards).items()
             if re.fullmatch(r"[A-Z_]+_(CARD|MASTERCARD)", name) and isinstance(value, str)]
    assert len(names) == 10
    for name in names:
        assert f"`{name}`" in testing, name
        pan = getattr(cards, name)
        assert cards.luhn_valid(pan) and (pan in CARDS) == (name != "UNLISTED_CARD"), name


# docs/testing.md: a shop's project, one file per block headed by its name.

TESTING = (Path(__file__).parents[2] / "docs" / "testing.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)
FILE_HEADER = re.compile(r"# ([\w.-]+\.(?:py|ini))\n")


def shop_files(doc: str) -> dict[str, str]:
    """The files docs/testing.md shows, by name (blocks of one name are joined in order)."""
    files: dict[str, str] = {}
    for language, text in BLOCK.findall(doc):
        header = FILE_HEADER.match(text)
        if language == "text":
            continue
        assert header, f"a ```{language} block of testing.md names no file:\n{text}"
        files[header.group(1)] = files.get(header.group(1), "") + text
    return files


def test_every_code_block_of_testing_md_is_a_file_or_a_signature():
    files = shop_files(TESTING)
    assert {"shop.py", "conftest.py", "pytest.ini", "test_postlink.py", "test_pay.py",
            "test_live.py", "test_two_stage.py"} <= set(files)


def test_the_shop_tests_of_testing_md_pass_as_written(pytester):
    """The blocks, copied into an empty folder, are a shop's project whose tests all pass with
    pytest-flask and the installed plugin (client, live_server, the plugin's fixtures)."""
    files = shop_files(TESTING)
    for name, text in files.items():
        (pytester.path / name).write_text(text, encoding="utf-8")
    tests = sum(len(re.findall(r"^def test_", text, re.M)) for name, text in files.items()
                if name.startswith("test_"))
    assert tests >= 7
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=tests)
