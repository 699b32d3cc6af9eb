"""Sample e-service for the tests: records in PostgreSQL behind nginx.

GET /health   200 when the database answers
GET /records  {"count": N}
POST /records inserts one record (the request body)
"""

import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

import psycopg2

DSN = os.environ["DATABASE_URL"]
with open("VERSION", encoding="utf-8") as version_file:
    VERSION = version_file.read().strip()


def query(sql, *args, fetch=True):
    with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone() if fetch else None


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            query("select 1")
            self.answer(200, {"status": "ok", "version": VERSION})
        elif self.path == "/records":
            self.answer(200, {"count": query("select count(*) from records")[0], "version": VERSION})
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        query("insert into records (body) values (%s)", body, fetch=False)
        self.answer(201, {"stored": body})


if __name__ == "__main__":
    query("create table if not exists records (id serial primary key, body text not null)", fetch=False)
    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
