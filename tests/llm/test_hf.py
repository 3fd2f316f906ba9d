"""HF backend on the real embedded SmolLM2: batching, sampling, stop strings, scoring, prefix reuse, LoRA."""

from __future__ import annotations

import torch

from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.embedded import converted_dir, weights_sha256

INSTRUCTION = (
    "You are a recommender. Read the user's history of beauty products with likes and dislikes, then decide "
    "whether the user will like the target product. Answer only with 'Prediction: Yes' or 'Prediction: No'.\n"
    "History:\n1. Rose hand cream (liked)\n2. Lavender soap bar (liked)\n3. Strong musk perfume (disliked)\n"
)


def _user(text: str) -> tuple[Message, ...]:
    return (Message("user", text),)


def test_identity_hash_is_the_weights_checksum(embedded_hf) -> None:
    ident = embedded_hf.identity
    assert ident.backend == "hf" and ident.model == "smollm2-135m-instruct"
    assert ident.model_hash == weights_sha256(converted_dir()) and len(ident.model_hash) == 64
    assert ident.adapter_hash is None


def test_render_appends_assistant_prefix_after_generation_prompt(embedded_hf) -> None:
    text = embedded_hf.render(_user("hi"), None, "Prediction:")
    assert text.endswith("<|im_start|>assistant\nPrediction:")


def test_batched_greedy_equals_one_at_a_time_and_reports_counts(embedded_hf) -> None:
    params = SamplingParams(max_new_tokens=10)
    reqs = [
        GenerationRequest(messages=_user(q), params=params)
        for q in ["What is 2+2?", "Name a colour of the sky on a clear summer day, please.", "Say hi."]
    ]
    batched = embedded_hf.generate(reqs)
    single = [embedded_hf.generate([r])[0] for r in reqs]
    assert [b.text for b in batched] == [s.text for s in single]
    for out in batched:
        assert out.finish_reason in {"stop", "length"} and out.error is None
        assert 0 < out.completion_tokens <= 10 and out.prompt_tokens > 20
        if out.finish_reason == "length":
            assert out.completion_tokens == 10


def test_stop_strings_and_seeded_sampling(embedded_hf) -> None:
    base = GenerationRequest(messages=_user("List three fruits, one per line."),
                             params=SamplingParams(max_new_tokens=24))
    full = embedded_hf.generate([base])[0].text
    assert "\n" in full
    stop = GenerationRequest(messages=base.messages, params=SamplingParams(max_new_tokens=24, stop=("\n",)))
    cut = embedded_hf.generate([stop])[0]
    assert cut.finish_reason == "stop" and "\n" not in cut.text and full.startswith(cut.text)

    hot = SamplingParams(temperature=1.0, max_new_tokens=12, seed=7)
    samples = [GenerationRequest(messages=base.messages, params=hot, sample_index=i) for i in range(3)]
    first = [c.text for c in embedded_hf.generate(samples)]
    again = [embedded_hf.generate([s])[0].text for s in samples]  # other batch composition, same seeds
    assert first == again
    assert len(set(first)) > 1  # different sample indices explore different paths


def test_prefix_reuse_matches_plain_scoring(embedded_hf) -> None:
    reqs = [
        ScoreRequest(choices=(" Yes", " No"), messages=_user(INSTRUCTION + f"Target: {t}"),
                     assistant_prefix="Prediction:")
        for t in ["Rose body lotion", "Musk cologne for men, extra strong", "Lavender bath salts", "Nail clippers"]
    ]
    embedded_hf.prefix_reuse = True
    reused = embedded_hf.score(reqs)
    embedded_hf.prefix_reuse = False
    try:
        plain = embedded_hf.score(reqs)
    finally:
        embedded_hf.prefix_reuse = True
    for a, b in zip(reused, plain, strict=True):
        assert a.error is None and b.error is None
        for choice in (" Yes", " No"):
            assert abs(a.logprobs[choice] - b.logprobs[choice]) < 1e-4
        assert abs(sum(a.probs.values()) - 1.0) < 1e-9


@torch.inference_mode()
def _full_sequence_logprob(backend, context: str, choice: str) -> float:
    """Independent reference: one forward over prompt+choice, sum the choice tokens' log-probs."""
    ids_ctx = backend.encode(context)
    ids_full = backend.encode(context + choice)
    n = next(i for i in range(len(ids_full)) if i >= len(ids_ctx) or ids_full[i] != ids_ctx[i])
    logits = backend.model(input_ids=torch.tensor([ids_full])).logits[0].float()
    lp = torch.log_softmax(logits, dim=-1)
    return float(sum(lp[i - 1, ids_full[i]] for i in range(n, len(ids_full))))


def test_multi_token_choices_are_scored_in_context(embedded_hf) -> None:
    # " 1" is two SmolLM2 tokens (space + digit): it must be scored as the sum of both, not truncated.
    assert len(embedded_hf.encode(" 1")) == 2 and len(embedded_hf.encode(" Yes")) == 1
    prompt = "On a scale of 1 to 5, how good is fresh bread? Rating:"
    choices = (" 1", " 3", " 5", " five")
    reqs = [ScoreRequest(choices=choices, prompt=prompt),
            ScoreRequest(choices=("1", "2", "3", "4", "5"), prompt=prompt + " ")]
    out = embedded_hf.score(reqs)
    for choice in choices:
        assert abs(out[0].logprobs[choice] - _full_sequence_logprob(embedded_hf, prompt, choice)) < 1e-4
    # "Rating: " + "1": the trailing space merges differently in context; still equals the reference.
    for choice in ("1", "5"):
        assert abs(out[1].logprobs[choice] - _full_sequence_logprob(embedded_hf, prompt + " ", choice)) < 1e-4
    assert out[0].best() in choices


def test_lora_adapter_changes_outputs_and_identity(embedded_hf, tmp_path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from reasonrec.llm.hf import HFBackend

    base = AutoModelForCausalLM.from_pretrained(str(converted_dir()))
    torch.manual_seed(0)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(str(tmp_path / "adapter"))
    tuned = HFBackend("embedded", adapter_path=tmp_path / "adapter", batch_size=2)
    assert tuned.identity.adapter_hash and tuned.identity.model_hash == embedded_hf.identity.model_hash
    req = [ScoreRequest(choices=(" Yes", " No"), messages=_user(INSTRUCTION + "Target: soap"),
                        assistant_prefix="Prediction:")]
    assert abs(tuned.score(req)[0].logprobs[" Yes"] - embedded_hf.score(req)[0].logprobs[" Yes"]) > 1e-3


def test_anti_loop_settings_stop_a_looping_greedy_output(embedded_hf) -> None:
    """Greedy decoding of a repetitive prompt loops; no_repeat_ngram_size=3 leaves no 3-gram twice, and the
    neutral settings keep the request's cache payload unchanged."""
    from reasonrec.llm.sampling import banned_ngram_tokens

    prompt = _user("Repeat after me forever: the user likes soap, the user likes soap, the user likes soap,")
    plain = GenerationRequest(messages=prompt, params=SamplingParams(max_new_tokens=48))
    guarded = GenerationRequest(messages=prompt, params=SamplingParams(max_new_tokens=48, no_repeat_ngram_size=3,
                                                                       repetition_penalty=1.3))
    assert "repetition_penalty" not in plain.payload()["params"]
    assert guarded.payload()["params"]["no_repeat_ngram_size"] == 3
    out = embedded_hf.generate([guarded])[0]
    ids = embedded_hf.tokenizer(out.text, add_special_tokens=False)["input_ids"]
    grams = [tuple(ids[i:i + 3]) for i in range(len(ids) - 2)]
    assert out.completion_tokens > 0 and len(grams) - len(set(grams)) <= 1  # re-tokenising may merge one pair
    assert banned_ngram_tokens([5, 6, 7, 5, 6], 3) == {7} and banned_ngram_tokens([5, 6], 3) == set()


def test_decode_groups_wider_than_the_prefill_batch_match_one_at_a_time(embedded_hf) -> None:
    """Prefill in slices of `batch_size` (each padded to its own longest prompt), decode all rows together: the
    texts equal one-at-a-time greedy decoding, whatever the slices' widths."""
    questions = ["Hi.", "What is 2+2?", "Name a colour of the sky on a clear summer day, please.",
                 "Write one sentence about hand cream for dry winter skin and why people like it.", "Say hi."]
    reqs = [GenerationRequest(messages=_user(q), params=SamplingParams(max_new_tokens=6 + i))
            for i, q in enumerate(questions)]
    single = [embedded_hf.generate([r])[0] for r in reqs]
    saved = embedded_hf.batch_size, embedded_hf.decode_batch_size
    try:
        embedded_hf.batch_size, embedded_hf.decode_batch_size = 2, 5
        grouped = embedded_hf.generate(reqs)
    finally:
        embedded_hf.batch_size, embedded_hf.decode_batch_size = saved
    assert [g.text for g in grouped] == [s.text for s in single]
    assert [g.completion_tokens for g in grouped] == [s.completion_tokens for s in single]

