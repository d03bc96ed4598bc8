"""The optional LLM rewrite: LangChain's OpenAI client against a real local
OpenAI-compatible HTTP server, and the grounding check that rejects invented facts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dialogue import GroundingCheck, LlmSettings, Rewriter
from dialogue._config import LlmPrompts
from dialogue._llm import langchain_completion
from tests.conftest import REPO

FACTS = ["Josie Yoga Jacket", "$56.25", "sizes: XS, S, M, L, XL", "colours: Black, Blue, Gray"]
DRAFT = "1. Josie Yoga Jacket ($56.25): in Blue, size M available."


class _Server(ThreadingHTTPServer):
    answer = ""
    requests: list[dict]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body,
                                     "auth": self.headers.get("Authorization")})  # fmt: skip
        reply = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.server.answer}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }  # fmt: skip
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture
def rewriter(server: _Server, monkeypatch) -> Rewriter:
    monkeypatch.setenv("SHOPASSIST_TEST_KEY", "sk-test")
    settings = LlmSettings(
        enabled=True,
        base_url=f"http://127.0.0.1:{server.server_port}/v1",
        model="test-model",
        api_key_env="SHOPASSIST_TEST_KEY",
    )
    prompts = LlmPrompts.load(REPO / "prompts" / "llm.yml")
    check = GroundingCheck(["Josie Yoga Jacket", "Stellar Solar Jacket", "Blue", "Red", "Wool"])
    return Rewriter(langchain_completion(settings), prompts, check)


class TestRewriteThroughLangChain:
    def test_a_grounded_rewrite_is_used(self, server, rewriter):
        server.answer = "The Josie Yoga Jacket ($56.25) comes in Blue and your size M is there."
        text, verdict = rewriter.rewrite("blue jacket", DRAFT, FACTS)
        assert verdict.ok and text == server.answer
        (request,) = server.requests
        assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
        sent = " ".join(m["content"] for m in request["body"]["messages"])
        assert DRAFT in sent and "$56.25" in sent

    @pytest.mark.parametrize(
        "invented",
        [
            "The Josie Yoga Jacket is only $1 today!",
            "Try the Stellar Solar Jacket instead.",
            "The Josie Yoga Jacket comes in Red.",
            "The Josie Yoga Jacket also comes in XXL.",
            "It's made of Wool.",
        ],
    )
    def test_invented_facts_fall_back_to_the_template(self, server, rewriter, invented):
        server.answer = invented
        text, verdict = rewriter.rewrite("blue jacket", DRAFT, FACTS)
        assert text == DRAFT and not verdict.ok and verdict.problems

    def test_an_unreachable_endpoint_keeps_the_draft(self, rewriter, server):
        server.shutdown()
        server.server_close()
        text, verdict = rewriter.rewrite("blue jacket", DRAFT, FACTS)
        assert text == DRAFT and "failed" in verdict.problems[0]


class TestGroundingCheck:
    def test_numbers_are_compared_as_values(self):
        check = GroundingCheck([])
        assert check.check("Only 56.25 dollars", DRAFT, FACTS).ok
        assert not check.check("Only 57 dollars", DRAFT, FACTS).ok


class TestAssistantWithAnLlm:
    def test_replies_are_rewritten_only_when_grounded(self, assistant, server, tmp_path):
        """llm.enabled in dialogue.yml, pointed at the local server: the real wiring."""
        import shutil
        from dataclasses import replace

        import yaml

        from assistant import Assistant

        prompts = tmp_path / "prompts"
        shutil.copytree(assistant.settings.prompts_dir, prompts)
        config = yaml.safe_load((prompts / "dialogue.yml").read_text())
        config["llm"].update(enabled=True, base_url=f"http://127.0.0.1:{server.server_port}/v1")
        (prompts / "dialogue.yml").write_text(yaml.safe_dump(config))
        data = tmp_path / "data"
        shutil.copytree(assistant.model_cache, data / "models")
        llm_assistant = Assistant(
            replace(assistant.settings, prompts_dir=prompts, data_dir=data), assistant.stack
        )
        server.answer = "Here are some bags I think you'll like."
        grounded = llm_assistant.respond("llm-1", "show me bags")
        assert grounded.dialogue.rewritten and grounded.text == server.answer
        assert grounded.suggestions  # the cards stay, only the wording changed
        server.answer = "The best bag is only $3.50 today."
        rejected = llm_assistant.respond("llm-2", "show me bags")
        assert not rejected.dialogue.rewritten and "$3.50" not in rejected.text
        assert rejected.text.startswith(("Here are", "I found"))
