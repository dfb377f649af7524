#!/usr/bin/env python3
# model_server.py -- a scripted OpenAI-compatible chat model on loopback, for `make test-agents`
# (test code: the product has no Python). Each POST /v1/chat/completions gets the next reply of
# the script, a file of JSON lines (with CALLS_FILE, the reply of the call CALLS_FILE counts, one
# line a call: every request of an agent call, its retries included, gets that call's reply):
#   {"content": "..."}             a 200 with that assistant message
#   {"status": 500}                the server fails (any status; the body is an error object)
# Past the end of the script every request gets a 500. The server binds 127.0.0.1 on a free
# port, writes the port to PORT_FILE, and appends each request's messages to LOG_FILE (one JSON
# line a request) so a test can read what the agent sent.
#   model_server.py SCRIPT PORT_FILE LOG_FILE [CALLS_FILE]
import http.server
import json
import os
import sys
import threading

script_path, port_file, log_path = sys.argv[1:4]
calls_path = sys.argv[4] if len(sys.argv) > 4 else None
lock = threading.Lock()
served = 0


def next_reply():
    global served
    with lock:
        with open(script_path) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        i = served
        if calls_path:
            with open(calls_path) as f:
                i = len(f.read().splitlines()) - 1
        served += 1
        return json.loads(lines[i]) if 0 <= i < len(lines) else {"status": 500}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.send(404, json.dumps({"error": {"message": "not found", "type": "invalid_request_error"}}))

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with lock, open(log_path, "a") as log:
            log.write(json.dumps({"path": self.path, "messages": req.get("messages", [])}) + "\n")
        if not self.path.endswith("/chat/completions"):
            return self.send(404, json.dumps({"error": {"message": "no such endpoint", "type": "invalid_request_error"}}))
        reply = next_reply()
        status = reply.get("status", 200)
        if status != 200:
            return self.send(status, json.dumps({"error": {"message": "scripted failure", "type": "server_error"}}))
        content, model = reply["content"], req.get("model", "scripted")
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        if not req.get("stream"):
            return self.send(200, json.dumps({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model, "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}))
        chunks = [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None},
                  {"index": 0, "delta": {}, "finish_reason": "stop"}]
        events = "".join("data: " + json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                                                "model": model, "choices": [c]}) + "\n\n" for c in chunks)
        self.send(200, events + "data: [DONE]\n\n", "text/event-stream")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
