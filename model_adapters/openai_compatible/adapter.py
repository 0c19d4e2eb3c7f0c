"""`openai`: a model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

How a clip is sent, decoded and retried: `model_adapters.families.served`.
Where things come from: base URL from the setting ``base_url``
(``--sseu-base-url``) or ``OPENAI_BASE_URL``; the served model's name from
``api_model`` (``--sseu-api-model``) or ``SSEU_OPENAI_MODEL``; the API key only
from the environment variable named by ``api_key_env`` (default
``OPENAI_API_KEY``), never from a file or a setting. A local vLLM without
``--api-key`` needs no key.
"""

from __future__ import annotations

from model_adapters.families.served import ChatAdapter


class OpenAIChatAdapter(ChatAdapter):
    """The generic chat endpoint; its module path and name are part of its stored answers' key."""

    name = "openai"
