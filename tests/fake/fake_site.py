#!/usr/bin/env python3
"""A fake business website for coachq's website-scan tests.

Standard library only: `python3 tests/fake/fake_site.py --port 0 --port-file F`.
Serves pages shaped like real small-business sites on 127.0.0.1 and counts
every request it receives, so a test can prove that a refused URL never
reached it.

  /dentist          JSON-LD Dentist with offers, Open Graph, nested navigation
  /solar            no JSON-LD: title, og:description, hero h1, service sections
  /big              a valid page padded past 1 MiB (the scan reads up to its cap)
  /brochure.pdf     application/pdf, not HTML
  /r1 -> /r2 -> /dentist    a redirect chain (302, then 301)
  /to-refused       302 to http://127.0.0.2:<port>/dentist, an address a policy
                    that allows only 127.0.0.1 refuses
  /gone             404
  GET /_control/counts      {"total": N, "paths": {path: n}}
  POST /_control/reset      zero the counts
"""
import argparse
import http.server
import json
import os
import threading

DENTIST = """<!doctype html><html lang="en-GB"><head><meta charset="utf-8">
<title>Bright Smile Dental | Family dentist in Leeds</title>
<meta name="description" content="Gentle family dentistry in Leeds: check-ups, implants and Invisalign.">
<meta property="og:site_name" content="Bright Smile">
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
 {"@type": "WebSite", "name": "Bright Smile website"},
 {"@type": ["Dentist", "LocalBusiness"], "name": "Bright Smile Dental Practice",
  "slogan": "Dentistry that fits around your family",
  "areaServed": {"@type": "City", "name": "Leeds"},
  "makesOffer": [{"@type": "Offer", "itemOffered": {"@type": "Service", "name": "Dental implants",
    "description": "Replace missing teeth with implants that last"}}]}]}</script>
</head><body><header><nav><ul><li><a href="/">Home</a></li>
<li><a href="/services">Services</a><ul><li><a href="/implants">Implants</a></li></ul></li></ul></nav></header>
<main><h1>Your family's smile, looked after</h1><h2>About us</h2><p>Founded in 2009.</p></main>
</body></html>"""

SOLAR = """<html><head><title>SunRise Solar - Rooftop solar for homeowners</title>
<meta property="og:description" content="Solar panels and home batteries, installed in a day."></head>
<body><h1>Cut your energy bill with rooftop solar</h1>
<p>We help homeowners in the valley switch to clean solar energy.</p>
<h2>Solar panel installation</h2><p>Panels sized to your roof and your bills.</p>
<h2>Home battery storage</h2><p>Keep the solar energy you make for the evening.</p>
</body></html>"""

BIG = ("<html><head><title>Big Catalogue Ltd</title>"
       "<meta name=\"description\" content=\"Every part for every bike.\"></head><body>"
       "<h1>The biggest bike parts catalogue</h1>"
       + "<p>" + "Spokes, chains and saddles for every bike. " * 30000 + "</p></body></html>")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def send(self, status, ctype, body, headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data)
            except (ConnectionResetError, BrokenPipeError):
                pass  # a client that stops reading at its size cap

    def do_POST(self):
        if self.path == "/_control/reset":
            with self.server.lock:
                self.server.counts.clear()
            self.send(200, "application/json", "{}")
        else:
            self.send(405, "text/plain", "no")

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/_control/counts":
            with self.server.lock:
                counts = dict(self.server.counts)
            self.send(200, "application/json",
                      json.dumps({"total": sum(counts.values()), "paths": counts}))
            return
        with self.server.lock:
            self.server.counts[path] = self.server.counts.get(path, 0) + 1
        port = self.server.server_address[1]
        if path == "/dentist":
            self.send(200, "text/html; charset=utf-8", DENTIST)
        elif path == "/solar":
            self.send(200, "text/html", SOLAR)
        elif path == "/big":
            self.send(200, "text/html; charset=utf-8", BIG)
        elif path == "/brochure.pdf":
            self.send(200, "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
        elif path == "/r1":
            self.send(302, "text/html", "moved", [("Location", "/r2")])
        elif path == "/r2":
            self.send(301, "text/html", "moved", [("Location", f"http://127.0.0.1:{port}/dentist")])
        elif path == "/to-refused":
            self.send(302, "text/html", "moved",
                      [("Location", f"http://127.0.0.2:{port}/dentist")])
        else:
            self.send(404, "text/html", "<html><body><h1>Not found</h1></body></html>")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up at their size cap are expected here


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.lock = threading.Lock()
    server.counts = {}
    server.verbose = args.log_level == "debug"
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
