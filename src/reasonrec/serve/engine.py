"""From a validated request to completions: prompt rendering and size checks, the caps on max_tokens / n /
log-probs, worker jobs, log-prob passes, and the wait that cancels work when the client goes away.

Every check that depends on the server's limits (not on the body alone) lives here, so the routes stay a thin
translation between HTTP and this engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from fastapi import Request

from reasonrec.llm.base import Completion, GenerationRequest, SamplingParams
from reasonrec.serve.config import ServerLimits
from reasonrec.serve.logprobs import TokenLogprob, encode, eos_ids, next_token_logprob, token_logprobs
from reasonrec.serve.schema import APIError, ChatCompletionBody, SamplingBody
from reasonrec.serve.worker import (
    CallJob,
    GenerationJob,
    Job,
    JobCancelled,
    JobExpired,
    ModelWorker,
    QueueFull,
)

log = logging.getLogger("reasonrec.serve")
DISCONNECT_POLL_S = 0.2


def internal_error(detail: str, exc: BaseException | None = None) -> APIError:
    """A 500 whose body carries only a reference; the detail (and traceback) go to the server log under it."""
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s: %s", ref, detail, exc_info=exc)
    return APIError(
        500,
        f"internal server error (reference {ref}); the details are in the server log",
        type="server_error",
    )


@dataclass(frozen=True)
class Prompt:
    text: str
    ids: list[int]
    offsets: list[int]


class Engine:
    """Holds the model, its tokenizer, the limits and the worker; one per app."""

    def __init__(self, llm: Any, limits: ServerLimits, worker: ModelWorker) -> None:
        self.llm = llm
        self.tokenizer = llm.tokenizer
        self.limits = limits
        self.worker = worker
        model_context = getattr(getattr(llm.model, "config", None), "max_position_embeddings", None)
        self.context_tokens = min(int(llm.max_prompt_tokens), int(model_context or llm.max_prompt_tokens))
        self.eos = eos_ids(self.tokenizer)

    # ------------------------------------------------------------------------------------------- checks

    def render_chat(self, body: ChatCompletionBody) -> str:
        if body.continue_final_message and body.add_generation_prompt:
            raise APIError(
                400,
                "continue_final_message and add_generation_prompt cannot both be true "
                "(set add_generation_prompt=false to continue the final assistant message)",
                param="continue_final_message",
            )
        if body.continue_final_message and body.messages[-1].role != "assistant":
            raise APIError(
                400,
                "continue_final_message needs the last message to have role 'assistant'",
                param="messages",
            )
        messages = [{"role": m.template_role(), "content": m.text()} for m in body.messages]
        try:
            return self.tokenizer.apply_chat_template(
                messages,
                tokenize=False,
                add_generation_prompt=body.add_generation_prompt,
                continue_final_message=body.continue_final_message,
            )
        except jinja2.TemplateError as exc:  # the template's own refusal (e.g. roles out of order)
            raise APIError(400, f"chat template rejected the messages: {exc}", param="messages") from exc
        except Exception as exc:  # anything else the template trips on is still about these messages
            log.warning("chat template failed: %s: %s", type(exc).__name__, exc)
            raise APIError(
                400, "the chat template could not render these messages", param="messages"
            ) from exc

    def prepare(self, text: str, param: str) -> Prompt:
        ids, offsets = encode(self.tokenizer, text)
        if not ids:
            raise APIError(400, f"{param} must contain at least one token", param=param)
        if len(ids) > self.limits.max_prompt_tokens:
            raise APIError(
                400,
                f"the prompt has {len(ids)} tokens, more than this server's limit of "
                f"{self.limits.max_prompt_tokens} (max_prompt_tokens)",
                param=param,
                code="context_length_exceeded",
            )
        return Prompt(text, ids, offsets)

    def max_tokens(self, requested: int | None, default: int, prompt_tokens: int, param: str) -> int:
        """The tokens to generate: the request's, within the server's cap and the context left after the
        prompt (400 otherwise, never a backend failure); unset → `default`, shortened to what fits."""
        room = self.context_tokens - prompt_tokens
        if requested is None:
            if room < 1:
                raise APIError(
                    400,
                    f"the prompt ({prompt_tokens} tokens) leaves no room in the "
                    f"{self.context_tokens}-token context",
                    param=param,
                    code="context_length_exceeded",
                )
            return min(default, room)
        if requested > self.limits.max_tokens:
            raise APIError(
                400,
                f"{param}={requested} exceeds this server's maximum of {self.limits.max_tokens}",
                param=param,
            )
        if requested > room:
            raise APIError(
                400,
                f"the prompt ({prompt_tokens} tokens) plus {param}={requested} exceeds the model's context of "
                f"{self.context_tokens} tokens; ask for at most {max(room, 0)}",
                param=param,
                code="context_length_exceeded",
            )
        return requested

    def check_n(self, n: int, prompts: int = 1) -> None:
        if n > self.limits.max_n:
            raise APIError(400, f"n={n} exceeds this server's maximum of {self.limits.max_n}", param="n")
        if prompts > self.limits.max_prompts:
            raise APIError(
                400,
                f"{prompts} prompts exceed this server's maximum of {self.limits.max_prompts} per request",
                param="prompt",
            )

    def check_top(self, k: int | None, param: str) -> int:
        k = k or 0
        if k > self.limits.max_top_logprobs:
            raise APIError(
                400,
                f"{param}={k} exceeds this server's maximum of {self.limits.max_top_logprobs}",
                param=param,
            )
        return k

    # ------------------------------------------------------------------------------------------- jobs

    def deadline(self) -> float:
        return time.monotonic() + self.limits.request_timeout_s

    def generation_jobs(self, prompt: Prompt, body: SamplingBody, max_tokens: int) -> list[GenerationJob]:
        params = SamplingParams(
            temperature=body.temperature,
            top_p=body.top_p,
            max_new_tokens=max_tokens,
            stop=body.stop_tuple(),
            seed=body.seed if body.seed is not None else 0,
        )
        deadline = self.deadline()
        return [
            GenerationJob(
                deadline=deadline,
                request=GenerationRequest(prompt=prompt.text, params=params, sample_index=i),
            )
            for i in range(body.n)
        ]

    def submit(self, jobs: list[Job]) -> None:
        try:
            self.worker.submit(jobs)
        except QueueFull as exc:
            raise self.busy(f"the server is busy ({exc}); retry later", "queue_full") from exc
        except JobCancelled as exc:
            raise self.busy("the server is shutting down", "shutting_down") from exc

    def busy(self, message: str, code: str) -> APIError:
        return APIError(
            503,
            message,
            type="server_error",
            code=code,
            headers={"Retry-After": str(self.limits.retry_after_s)},
        )

    async def run(self, request: Request, jobs: list[Job]) -> list[Any]:
        """Submit `jobs` and wait for all of them; if the client disconnects first, they are cancelled."""
        self.submit(jobs)
        watcher = asyncio.create_task(self._watch_disconnect(request, jobs))
        try:
            return list(await asyncio.gather(*(asyncio.wrap_future(j.future) for j in jobs)))
        except JobExpired as exc:
            raise self.busy(
                f"the server is busy: the request waited longer than its time budget "
                f"({self.limits.request_timeout_s:g} s)",
                "timeout",
            ) from exc
        except JobCancelled as exc:
            raise self.busy("the request was cancelled before it ran", "cancelled") from exc
        finally:
            watcher.cancel()
            self.worker.cancel(jobs)

    async def _watch_disconnect(self, request: Request, jobs: list[Job]) -> None:
        while not await request.is_disconnected():
            await asyncio.sleep(DISCONNECT_POLL_S)
        log.info("client disconnected: cancelling %d job(s)", len(jobs))
        self.worker.cancel(jobs)

    async def call(self, request: Request, fn: Callable[[], Any]) -> Any:
        """Run `fn` (a forward pass) on the worker thread, in the short lane."""
        return (await self.run(request, [CallJob(deadline=self.deadline(), fn=fn)]))[0]

    async def logprobs(self, request: Request, ids: list[int], start: int, top_k: int) -> list[TokenLogprob]:
        return await self.call(
            request, lambda: token_logprobs(self.llm.model, self.tokenizer, ids, start, top_k)
        )

    async def complete(
        self,
        request: Request,
        prompt: Prompt,
        body: SamplingBody,
        max_tokens: int,
        want_logprobs: bool,
        top_k: int,
    ) -> list[tuple[Completion, list[TokenLogprob] | None]]:
        """n completions of one prompt, each with generated-token log-probs when asked for."""
        if max_tokens == 0:
            empty = Completion(text="", finish_reason="length", prompt_tokens=len(prompt.ids))
            return [(empty, [] if want_logprobs else None) for _ in range(body.n)]
        if body.temperature == 0.0 and max_tokens == 1 and want_logprobs:
            # The scoring hot path: the forward pass that yields the log-probs also yields the argmax.
            result = await self.call(request, lambda: self._one_greedy_step(prompt, body.stop_tuple(), top_k))
            return [result for _ in range(body.n)]
        completions: list[Completion] = await self.run(
            request, self.generation_jobs(prompt, body, max_tokens)
        )
        for c in completions:
            if c.finish_reason == "error":
                raise internal_error(f"backend failed to generate: {c.error}")
        if not want_logprobs:
            return [(c, None) for c in completions]
        out = []
        for c in completions:
            gen_ids = list(self.tokenizer(c.text, add_special_tokens=False)["input_ids"]) if c.text else []
            out.append((c, await self.logprobs(request, prompt.ids + gen_ids, len(prompt.ids), top_k)))
        return out

    def _one_greedy_step(
        self, prompt: Prompt, stops: tuple[str, ...], top_k: int
    ) -> tuple[Completion, list[TokenLogprob]]:
        step = next_token_logprob(self.llm.model, self.tokenizer, prompt.ids, top_k)
        text, finish = ("", "stop") if step.token_id in self.eos else (step.token, "length")
        for s in stops:
            if s in text:
                text, finish = text[: text.index(s)], "stop"
        # the EOS token keeps its log-prob entry (as vLLM reports it): a scorer still sees the alternatives
        return Completion(text, finish, len(prompt.ids), 1), [step]
