"""Drives kefu's /v1/chat/completions with the official `openai` package, as a chatbot
builder would: argv = base URL (http://127.0.0.1:PORT), API key. Prints one JSON object with
what the client saw, for the Rust test to check."""
import json
import sys

import openai

base, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base + "/v1", api_key=key)
out = {}

# a conversation kept by kefu under the `user` field: the follow-up is resolved
first = client.chat.completions.create(
    model="kefu", user="alice",
    messages=[{"role": "user", "content": "How long is the X9 Pro warranty?"}])
second = client.chat.completions.create(
    model="kefu", user="alice",
    messages=[{"role": "user", "content": "How long is the X9 Pro warranty?"},
              {"role": "assistant", "content": first.choices[0].message.content},
              {"role": "user", "content": "and the charger?"}])
out["first"] = {"content": first.choices[0].message.content,
                "finish": first.choices[0].finish_reason,
                "kefu": first.model_extra.get("kefu")}
out["second"] = {"content": second.choices[0].message.content,
                 "kefu": second.model_extra.get("kefu")}

# a stateless client: the history is in the request
stateless = client.chat.completions.create(
    model="kefu",
    messages=[{"role": "user", "content": "X9 Pro 保修多久"},
              {"role": "assistant", "content": "12 个月。"},
              {"role": "user", "content": "那电池呢"}])
out["stateless"] = {"content": stateless.choices[0].message.content,
                    "kefu": stateless.model_extra.get("kefu")}

# streaming in OpenAI's chunk format
pieces, finish, kefu = [], None, None
for chunk in client.chat.completions.create(
        model="kefu", stream=True,
        messages=[{"role": "user", "content": "How long is the AB-14 warranty?"}]):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.choices and chunk.choices[0].finish_reason:
        finish = chunk.choices[0].finish_reason
        kefu = (chunk.model_extra or {}).get("kefu")
out["stream"] = {"content": "".join(pieces), "pieces": len(pieces), "finish": finish, "kefu": kefu}

# a bad key is the client's AuthenticationError
try:
    openai.OpenAI(base_url=base + "/v1", api_key="not-a-key-at-all").chat.completions.create(
        model="kefu", messages=[{"role": "user", "content": "hi"}])
    out["bad_key"] = "accepted"
except openai.AuthenticationError as e:
    out["bad_key"] = e.status_code

print(json.dumps(out, ensure_ascii=False))
