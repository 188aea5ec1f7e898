"""The chaos run behind deploy/chaos (run that, not this file).

Partners place orders through haproxy, each with its own Idempotency-Key, and retry
exactly as API.md tells them to: the same key again after a 409 (after Retry-After), a
429 (after Retry-After), a 503 or another 5xx (except 502 `upstream_error`, which is
final: refunded), a connection error or a time-out; other 4xx are final; a 202 is polled
with GET /v1/orders/{orderId} until settled. Meanwhile one gateway is killed -9 and
started again, then the PostgreSQL primary's node (Patroni and PostgreSQL) is killed -9
and started again (it rejoins as the standby). Afterwards the books are checked on the
new primary and deploy/results/chaos.md is written.

Standard library only. Every request's outcome goes to DATA/chaos/RUN/attempts.jsonl.
"""

import argparse
import collections
import datetime
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

DEPLOY = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DEPLOY)
DATA = os.environ["CHAOS_DATA"]
HOST = os.environ["CHAOS_HOST"]
HTTP_PORT = int(os.environ["CHAOS_HTTP_PORT"])
PG_NODES = os.environ["CHAOS_PG_NODES"].split()
PG_PORTS = dict(zip(PG_NODES, map(int, os.environ["CHAOS_PG_PORTS"].split())))
PG_API_PORTS = dict(zip(PG_NODES, map(int, os.environ["CHAOS_PG_API_PORTS"].split())))
GATEWAYS = os.environ["CHAOS_GATEWAYS"].split()
GW_PORTS = [int(p) for p in os.environ["CHAOS_GW_PORTS"].split()]
BIN = os.path.join(DATA, "bin", "tavaro")
CLUSTER = os.path.join(DEPLOY, "cluster")

# A partner at checkout gives up on one attempt after this long and retries.
CLIENT_TIMEOUT_S = 20.0


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def log(msg):
    print(f"\033[1;34m==>\033[0m {msg}", file=sys.stderr, flush=True)


def secrets():
    values = {}
    with open(os.path.join(DATA, "secrets.env")) as f:
        for line in f:
            name, _, value = line.strip().partition("=")
            values[name] = value
    return values


# --- The cluster -----------------------------------------------------------------------------
def http_status(port, path, timeout=2.0):
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        status = resp.status
        conn.close()
        return status
    except OSError:
        return None


def primary_node():
    for node in PG_NODES:
        if http_status(PG_API_PORTS[node], "/primary") == 200:
            return node
    return None


def sync_standby():
    for node in PG_NODES:
        if http_status(PG_API_PORTS[node], "/synchronous") == 200:
            return node
    return None


def pg_home():
    with open(os.path.join(DATA, "pg.path")) as f:
        return f.read().strip()


def cluster(*args):
    """Runs deploy/cluster; returns its output (raises on failure)."""
    out = subprocess.run([CLUSTER, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"deploy/cluster {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return (out.stdout + out.stderr).strip()


def node_url(node, db="tavaro"):
    return f"postgres://tavaro:{secrets()['APP_PASSWORD']}@{HOST}:{PG_PORTS[node]}/{db}"


def psql_json(url, sql):
    """One query returning one JSON value."""
    out = subprocess.run(
        ["psql", url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip() or "null")


def tavaro(*args, url=None):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
           "DATABASE_URL": url or open(os.path.join(DATA, "database_url")).read().strip()}
    out = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=DATA, env=env, timeout=120)
    return out.returncode, out.stdout + out.stderr


# --- The partners ----------------------------------------------------------------------------
class Run:
    """Everything the clients saw, shared by their threads (appends under one lock)."""

    def __init__(self, run_dir):
        self.t0 = time.time()
        self.lock = threading.Lock()
        self.attempts = []
        self.keys = {}
        self.events = []
        self.stop_placing = threading.Event()
        # "load" while the partners sell; "replay" for the keys sent again afterwards.
        self.phase = "load"
        self.give_up_at = None
        self.raw = open(os.path.join(run_dir, "attempts.jsonl"), "w")

    def now(self):
        return time.time() - self.t0

    def event(self, what, detail=""):
        with self.lock:
            self.events.append((self.now(), what, detail))
        log(f"t={self.now():6.1f}s {what} {detail}".rstrip())

    def record(self, attempt):
        with self.lock:
            self.attempts.append(attempt)
            self.raw.write(json.dumps(attempt) + "\n")


def parse_json(body):
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


class Client(threading.Thread):
    """One partner's checkout: places orders one after another, each until it is settled.

    Through haproxy (keep-alive, as a partner's HTTP client would), or, with `ports`, one
    fresh connection per request straight to each gateway in turn: that client sees what
    the gateways themselves answer while haproxy has taken them out of service.
    """

    def __init__(self, run, partner, key, plan, index, ports=None):
        super().__init__(daemon=True, name=f"{partner['name']}-c{index}")
        self.run_ = run
        self.partner = partner
        self.api_key = key
        self.plan = plan
        self.index = index
        self.ports = ports
        self.turn = 0
        self.conn = None
        self.via = "haproxy"
        self.rng = random.Random(f"{partner['name']}-{index}")

    def connection(self):
        if self.ports:
            self.reset()
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
            self.via = f"gateway:{port}"
            self.conn = http.client.HTTPConnection(HOST, port, timeout=CLIENT_TIMEOUT_S)
        elif self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, HTTP_PORT, timeout=CLIENT_TIMEOUT_S)
        return self.conn

    def request(self, key, method, path, body=None, idem=None):
        """One HTTP attempt; its outcome recorded. Returns (status|None, json|None, headers)."""
        request_id = str(uuid.uuid4())
        headers = {"Authorization": f"Bearer {self.api_key}", "X-Request-Id": request_id}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if idem is not None:
            headers["Idempotency-Key"] = idem
        start_wall = time.time()
        status, doc, resp_headers, error = None, None, {}, None
        try:
            conn = self.connection()
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
            doc = parse_json(raw)
            if resp_headers.get("connection", "").lower() == "close":
                self.reset()
        except (socket.timeout, TimeoutError):
            error = "timeout"
            self.reset()
        except (OSError, http.client.HTTPException) as e:
            error = "conn_error"
            self.reset()
            resp_headers = {"x-error": type(e).__name__}
        end_wall = time.time()
        data = (doc or {}).get("data") if isinstance(doc, dict) else None
        err = (doc or {}).get("error") if isinstance(doc, dict) else None
        self.run_.record({
            "t0": round(start_wall - self.run_.t0, 3),
            "t1": round(end_wall - self.run_.t0, 3),
            "wall0": start_wall,
            "client": self.name,
            "partner": self.partner["name"],
            "key": key,
            "method": method,
            "path": path if method == "POST" else "/v1/orders/{id}",
            "status": status if status is not None else error,
            "code": (err or {}).get("code") if err else None,
            "order_id": (data or {}).get("orderId") if isinstance(data, dict) else None,
            "order_status": (data or {}).get("status") if isinstance(data, dict) else None,
            "request_id": request_id,
            "detail": resp_headers.get("x-error"),
            "phase": self.run_.phase,
            "via": self.via,
        })
        return status, doc, resp_headers

    def reset(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def wait_before_retry(self, headers, attempt):
        retry_after = headers.get("retry-after")
        try:
            delay = float(retry_after) if retry_after is not None else None
        except ValueError:
            delay = None
        if delay is None:
            delay = min(2.0, 0.2 * (2 ** min(attempt, 4)))
        time.sleep(delay * (0.75 + 0.5 * self.rng.random()))

    def gave_up(self):
        return self.run_.give_up_at is not None and time.time() > self.run_.give_up_at

    def place(self, number):
        key = f"{self.partner['name']}-c{self.index}-{number:05d}"
        quantity = self.rng.choice([1, 1, 1, 2, 3])
        body = {"planId": self.plan["planId"], "quantity": quantity, "reference": key,
                "customerEmail": f"traveller{number}@example.com"}
        outcome = {"partner": self.partner["name"], "quantity": quantity, "first_t": self.run_.now(),
                   "orders_seen": [], "ack": None, "ack_t": None, "final": None, "attempts": 0}
        with self.run_.lock:
            self.run_.keys[key] = outcome
        attempt = 0
        while True:
            if self.gave_up():
                outcome["final"] = "unresolved"
                return
            attempt += 1
            outcome["attempts"] = attempt
            status, doc, headers = self.request(key, "POST", "/v1/order", body, idem=key)
            data = doc.get("data") if isinstance(doc, dict) else None
            code = ((doc or {}).get("error") or {}).get("code") if isinstance(doc, dict) else None
            if isinstance(data, dict) and data.get("orderId"):
                outcome["orders_seen"].append(data["orderId"])
            if status == 201:
                outcome["ack"], outcome["ack_t"], outcome["final"] = data["orderId"], self.run_.now(), "201"
                return
            if status == 202:
                self.poll(key, data["orderId"], outcome)
                return
            if status == 502 and code == "upstream_error":
                outcome["final"] = "502 upstream_error"
                return
            if status in (409, 429) or status is None or status >= 500:
                self.wait_before_retry(headers, attempt)
                continue
            outcome["final"] = f"{status} {code}"
            return

    def poll(self, key, order_id, outcome):
        attempt = 0
        while True:
            if self.gave_up():
                outcome["final"] = "unresolved (202)"
                return
            attempt += 1
            time.sleep(1.0)
            status, doc, headers = self.request(key, "GET", f"/v1/orders/{order_id}")
            data = doc.get("data") if isinstance(doc, dict) else None
            if status == 200 and isinstance(data, dict):
                if data.get("status") == "completed":
                    outcome["ack"], outcome["ack_t"], outcome["final"] = order_id, self.run_.now(), "202 then completed"
                    return
                if data.get("status") == "failed":
                    outcome["final"] = "202 then failed"
                    return

    def run(self):
        number = 0
        while not self.run_.stop_placing.is_set():
            number += 1
            self.place(number)
            time.sleep(self.rng.uniform(0.05, 0.25))
        self.reset()


# --- Seeding -------------------------------------------------------------------------------------
def seed(run_id, names, credit_dollars):
    seeded = []
    for suffix in names:
        name = f"{run_id}-{suffix}"
        rc, out = tavaro("partner", "create", "--name", name, "--markup", "15", "--json")
        if rc != 0:
            raise RuntimeError(f"partner create failed: {out}")
        partner = json.loads(out[out.index("{"):])
        rc, out = tavaro("credits", "add", "--partner", name, "--amount", f"{credit_dollars:.2f}", "--note", "chaos run")
        if rc != 0:
            raise RuntimeError(f"credits add failed: {out}")
        rc, out = tavaro("key", "create", "--partner", name, "--label", "Chaos", "--json")
        if rc != 0:
            raise RuntimeError(f"key create failed: {out}")
        key = json.loads(out[out.index("{"):])["key"]
        seeded.append(({"name": name, "id": partner["id"]}, key))
    return seeded


def cheapest_plan(api_key):
    conn = http.client.HTTPConnection(HOST, HTTP_PORT, timeout=10)
    conn.request("GET", "/v1/packages?country=FR", headers={"Authorization": f"Bearer {api_key}"})
    resp = conn.getresponse()
    doc = json.loads(resp.read())
    if resp.status != 200 or not doc["data"]:
        raise RuntimeError(f"GET /v1/packages answered {resp.status}: {doc}")
    return min(doc["data"], key=lambda p: p["price"])


# --- The scenario -------------------------------------------------------------------------------
def wait_for(pred, timeout, step=0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return None


def first_success_after(run, t):
    """The first 201 (or completed 202) answered to a request sent after t."""
    with run.lock:
        times = [a["t1"] for a in run.attempts
                 if a["t0"] >= t and a["method"] == "POST" and a["status"] == 201 and a["phase"] == "load"]
    return min(times) if times else None


def scenario(run, args):
    time.sleep(args.warmup)
    victim = args.gateway
    run.event("kill_gateway", cluster("kill", victim))
    t_gw = run.now()
    run.gw_kill = (t_gw, time.time(), victim)
    time.sleep(args.gateway_down)
    cluster("start", victim)
    run.event("gateway_started", victim)

    time.sleep(args.between)
    old = primary_node()
    if old is None:
        raise RuntimeError("no primary before the database kill")
    other = [n for n in PG_NODES if n != old][0]
    run.event("kill_primary", cluster("kill", old))
    t_db = run.now()
    run.db_kill = (t_db, time.time(), old)
    new = wait_for(lambda: primary_node() == other and other, 120)
    run.event("new_primary", f"{other} reports primary" if new else "no new primary within 120 s")
    run.new_primary_t = run.now() if new else None
    ok = wait_for(lambda: first_success_after(run, t_db), 120)
    run.event("orders_succeed_again", f"first 201 at t={ok:.1f}s" if ok else "none within 120 s")
    time.sleep(args.before_rejoin)
    cluster("start", old)
    run.event("old_primary_started", f"{old} rejoins")
    synced = wait_for(lambda: sync_standby() == old and old, 180, step=1)
    run.event("sync_restored", f"{old} is the synchronous standby" if synced else "not synchronous within 180 s")
    run.old_primary, run.new_primary = old, other
    if args.switchover:
        # Planned maintenance: hand the primary back to the node that was killed.
        time.sleep(args.before_rejoin)
        t_sw, wall_sw = run.now(), time.time()
        out = subprocess.run(["patronictl", "-c", os.path.join(pg_home(), other, "patroni.yml"), "switchover",
                              "--candidate", old, "--force"], capture_output=True, text=True)
        run.event("switchover", f"patronictl switchover to {old} (started t={t_sw:.1f}s): exit {out.returncode}")
        run.switchover = (t_sw, wall_sw, other)
        ok = wait_for(lambda: first_success_after(run, t_sw), 120)
        run.event("orders_succeed_again", f"first 201 at t={ok:.1f}s" if ok else "none within 120 s")
        synced = wait_for(lambda: sync_standby() == other and other, 180, step=1)
        run.event("sync_restored", f"{other} is the synchronous standby" if synced else "not synchronous within 180 s")
    time.sleep(args.tail)


# --- Checks -------------------------------------------------------------------------------------
def settle_wait(run, url, ids):
    """Waits (up to 240 s) until no chaos order is pending or processing."""
    sql = (f"select count(*) from orders where partner_id = any(array[{ids}]::uuid[]) "
           "and status in ('pending', 'processing')")
    deadline = time.time() + 240
    while time.time() < deadline:
        n = psql_json(url, sql)
        if n == 0:
            return 0
        time.sleep(2)
    return psql_json(url, sql)


def replay_keys(run, clients, sample):
    """Sends the same request again for a sample of keys: each must answer its first order."""
    mismatches = []
    checked = 0
    for key in sample:
        outcome = run.keys[key]
        client = next(c for c in clients if key.startswith(c.partner["name"] + f"-c{c.index}-"))
        body = {"planId": client.plan["planId"], "quantity": outcome["quantity"], "reference": key,
                "customerEmail": f"traveller{int(key.rsplit('-', 1)[1])}@example.com"}
        for _ in range(10):
            status, doc, headers = client.request(key, "POST", "/v1/order", body, idem=key)
            if status not in (409, 429) and not (status is None or (status >= 500 and status != 502)):
                break
            client.wait_before_retry(headers, 1)
        data = doc.get("data") if isinstance(doc, dict) else None
        got = data.get("orderId") if isinstance(data, dict) else None
        checked += 1
        if outcome["ack"] and got != outcome["ack"]:
            mismatches.append(f"{key}: acknowledged {outcome['ack']}, replay answered {status} {got}")
        if not outcome["ack"] and status in (201, 202):
            mismatches.append(f"{key}: final answer was {outcome['final']}, replay answered {status} {got}")
    return checked, mismatches


def check_books(run, url, seeded, credit_cents):
    ids = ",".join(f"'{p['id']}'" for p, _ in seeded)
    orders = psql_json(url, f"""
        select coalesce(json_agg(t), '[]') from (
          select o.id, o.partner_id, o.status, o.quantity, o.total_cost_cents, o.reference,
                 (select count(*) from esims e where e.order_id = o.id) as esims
          from orders o where o.partner_id = any(array[{ids}]::uuid[])) t""")
    entries = psql_json(url, f"""
        select coalesce(json_agg(t), '[]') from (
          select partner_id, kind, amount_cents, order_id from ledger_entries
          where partner_id = any(array[{ids}]::uuid[])) t""")
    balances = psql_json(url, f"""
        select coalesce(json_object_agg(partner_id, balance_cents), '{{}}') from balances
        where partner_id = any(array[{ids}]::uuid[])""")
    name_of = {p["id"]: p["name"] for p, _ in seeded}
    by_id = {o["id"]: o for o in orders}
    by_ref = collections.defaultdict(list)
    for o in orders:
        by_ref[o["reference"]].append(o)
    debits = collections.defaultdict(int)
    refunds = collections.defaultdict(int)
    for e in entries:
        if e["kind"] == "order_debit":
            debits[e["order_id"]] += 1
        elif e["kind"] == "refund":
            refunds[e["order_id"]] += 1

    checks = []

    acked = {k: v for k, v in run.keys.items() if v["ack"]}
    lost = []
    for key, v in acked.items():
        o = by_id.get(v["ack"])
        if o is None:
            lost.append(f"{key}: order {v['ack']} missing")
        elif o["status"] != "completed":
            lost.append(f"{key}: order {v['ack']} is {o['status']}")
        elif o["esims"] != o["quantity"] or o["quantity"] != v["quantity"]:
            lost.append(f"{key}: order {v['ack']} has {o['esims']} eSIMs for quantity {o['quantity']} (asked {v['quantity']})")
        elif name_of.get(o["partner_id"]) != v["partner"] or o["reference"] != key:
            lost.append(f"{key}: order {v['ack']} belongs to another partner or reference")
        elif debits[o["id"]] != 1 or refunds[o["id"]] != 0:
            lost.append(f"{key}: order {v['ack']} has {debits[o['id']]} debits and {refunds[o['id']]} refunds")
    checks.append(("Every order a client saw 201 for (or 202, then completed) exists once, completed, with its eSIMs, debited once",
                   not lost, f"{len(acked) - len(lost)} of {len(acked)}", lost))

    mixed = [f"{k}: {sorted(set(v['orders_seen']))}" for k, v in run.keys.items() if len(set(v["orders_seen"])) > 1]
    dup_refs = [f"{ref}: {len(os_)} orders" for ref, os_ in by_ref.items() if len(os_) > 1]
    retried = sum(1 for v in run.keys.values() if v["attempts"] > 1)
    checks.append(("Every retry with the same Idempotency-Key got the same order (and the database holds at most one order per key)",
                   not mixed and not dup_refs, f"{retried} keys retried, {len(mixed)} saw two orders, {len(dup_refs)} keys with two orders",
                   mixed + dup_refs))

    never_got = []
    for o in orders:
        if debits[o["id"]] == 0:
            continue
        key = o["reference"]
        v = run.keys.get(key)
        if o["status"] == "completed":
            if refunds[o["id"]]:
                never_got.append(f"{key}: completed order {o['id']} was also refunded")
            elif v is None or v["ack"] != o["id"]:
                never_got.append(f"{key}: completed order {o['id']} debited, but the client's answer was {v and v['final']}")
        elif refunds[o["id"]] != 1:
            never_got.append(f"{key}: {o['status']} order {o['id']} debited without a refund")
    double = [f"{ref}: {len([o for o in os_ if o['status'] == 'completed'])} completed orders"
              for ref, os_ in by_ref.items() if len([o for o in os_ if o["status"] == "completed"]) > 1]
    checks.append(("No partner was debited for an order it never got (each debit is an acknowledged completed order or has its refund)",
                   not never_got, f"{sum(debits.values())} debits, {sum(refunds.values())} refunds, {len(never_got)} offenders", never_got))
    checks.append(("No double debit (one key, one debit)", not double and all(n == 1 for n in debits.values()),
                   f"{len(double)} keys debited twice", double))

    rc, out = tavaro("ledger", "verify", url=url)
    checks.append(("`tavaro ledger verify` is clean (on the new primary)", rc == 0, out.strip().splitlines()[-1] if out.strip() else f"exit {rc}",
                   [] if rc == 0 else out.strip().splitlines()[:20]))

    wrong = []
    total_balance = total_expected = 0
    for p, _ in seeded:
        completed = sum(o["total_cost_cents"] for o in orders if o["partner_id"] == p["id"] and o["status"] == "completed")
        expected = credit_cents - completed
        got = balances.get(p["id"])
        total_balance += got or 0
        total_expected += expected
        if got != expected:
            wrong.append(f"{p['name']}: balance {got} cents, credits minus completed orders {expected} cents")
    checks.append(("Sum of balances = credits added - completed orders", not wrong,
                   f"{total_balance / 100:.2f} = {len(seeded) * credit_cents / 100:.2f} - {(len(seeded) * credit_cents - total_expected) / 100:.2f} USD", wrong))
    return checks, orders


def check_revocation(partner):
    """After the failover, LISTEN/NOTIFY still reaches every gateway: a key revoked with the
    CLI is refused by each of them within 5 s (API.md), long before its cache entry's TTL."""
    rc, out = tavaro("key", "create", "--partner", partner["name"], "--label", "Revocation check", "--json")
    if rc != 0:
        return False, f"key create failed: {out.strip()}", []
    created = json.loads(out[out.index("{"):])

    def status(port):
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", "/v1/balance", headers={"Authorization": f"Bearer {created['key']}"})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except OSError:
            return None
        finally:
            conn.close()

    before = {port: status(port) for port in GW_PORTS}
    if any(v != 200 for v in before.values()):
        return False, f"the new key was not accepted everywhere first: {before}", []
    rc, out = tavaro("key", "revoke", created["id"])
    if rc != 0:
        return False, f"key revoke failed: {out.strip()}", []
    revoked_at = time.time()
    took = {}
    while time.time() - revoked_at < 10 and len(took) < len(GW_PORTS):
        for port in GW_PORTS:
            if port not in took and status(port) == 401:
                took[port] = time.time() - revoked_at
        time.sleep(0.1)
    slow = [f"gateway :{p} still accepted the revoked key after 10 s" for p in GW_PORTS if p not in took]
    slow += [f"gateway :{p} refused it only after {t:.1f} s" for p, t in took.items() if t > 5]
    summary = ", ".join(f":{p} {t:.1f} s" for p, t in sorted(took.items())) or "none refused it"
    return not slow, summary, slow


def check_standby(url_primary, url_standby, ids):
    """The rejoined standby holds the same orders and balances once it has replayed."""
    lsn = psql_json(url_primary, "select to_json(pg_current_wal_lsn()::text)")
    replayed = wait_for(lambda: psql_json(url_standby, f"select to_json(pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn)"), 60, step=1)
    q = (f"select json_build_array((select count(*) from orders where partner_id = any(array[{ids}]::uuid[])), "
         f"(select coalesce(sum(balance_cents), 0) from balances where partner_id = any(array[{ids}]::uuid[])), "
         f"(select count(*) from esims where partner_id = any(array[{ids}]::uuid[])))")
    a, b = psql_json(url_primary, q), psql_json(url_standby, q)
    return bool(replayed) and a == b, a, b


# --- Reading the logs -----------------------------------------------------------------------------
HAPROXY_LINE = re.compile(
    r'^\S+ \[(?P<date>[^\]]+)\] partners (?P<backend>[^/\s]+)/(?P<server>\S+) (?P<timers>\S+) (?P<status>-?\d+) '
    r'\S+ \S+ \S+ (?P<term>\S{4}) \S+ \S+ \{(?P<caps>[^}]*)\} "(?P<req>[^"]*)"')
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def log_path(name):
    return os.path.join(DATA, "log", f"{name}.log")


def log_offsets():
    """Where each log ends now: the run reads only what follows."""
    offsets = {}
    for name in ["haproxy", *GATEWAYS, *PG_NODES]:
        try:
            offsets[name] = os.path.getsize(log_path(name))
        except OSError:
            offsets[name] = 0
    return offsets


def read_from(name, offset):
    with open(log_path(name), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", errors="replace").splitlines()


def haproxy_requests(offset):
    lines = []
    for line in read_from("haproxy", offset):
        m = HAPROXY_LINE.match(line.strip())
        if not m:
            continue
        accepted = datetime.datetime.strptime(m["date"], "%d/%b/%Y:%H:%M:%S.%f").timestamp()
        total_ms = int(m["timers"].split("/")[-1])
        lines.append({"server": m["server"], "status": int(m["status"]), "term": m["term"],
                      "accepted": accepted, "ended": accepted + max(total_ms, 0) / 1000,
                      "request_id": m["caps"].split("|")[0], "req": m["req"]})
    return lines


def haproxy_events(offset):
    """Server UP/DOWN transitions haproxy logged during the run, in order."""
    stamp = re.compile(r"^Server (\S+) is (UP|DOWN), reason: ([^,.]+(?:, code: \d+)?)")
    return [(m[1], m[2], m[3]) for m in map(stamp.match, read_from("haproxy", offset)) if m]


def gateway_log_findings(offsets):
    """Warnings and errors each gateway logged during the run, counted by message."""
    found = {}
    for gw in GATEWAYS:
        counts = collections.Counter()
        for raw in read_from(gw, offsets.get(gw, 0)):
            line = ANSI.sub("", raw).strip()
            m = re.match(r"^\S+\s+(WARN|ERROR)\s+(.*)$", line)
            if not m:
                continue
            message = re.sub(r'request_id="[^"]*"|[0-9a-f]{8}-[0-9a-f-]{27}', "ID", m[2])
            message = re.sub(r"\d+(\.\d+)?", "N", message)
            counts[f"{m[1]} {message[:240]}"] += 1
        found[gw] = counts
    return found


# --- The figures --------------------------------------------------------------------------------
def analyse(run, attempts, offsets):
    """Requests by status and who answered them, and what each kill cost."""
    hap = haproxy_requests(offsets.get("haproxy", 0))
    served = {h["request_id"]: h for h in hap}

    def answered_by(a):
        if a["via"] != "haproxy":
            return "gateway (direct)" if isinstance(a["status"], int) else "-"
        h = served.get(a["request_id"])
        if h is None:
            return "-" if not isinstance(a["status"], int) else "gateway (not in haproxy's log)"
        if h["server"] == "<NOSRV>":
            return "haproxy: no gateway up"
        if h["term"].startswith("S") and h["status"] in (502, 504):
            return f"haproxy: {h['server']} died mid-request"
        return "gateway"

    by_status = collections.Counter()
    for a in attempts:
        kind = "POST /v1/order" if a["method"] == "POST" else "GET /v1/orders/{id}"
        code = a["code"] if a["status"] not in (200, 201, 202) else None
        via = "haproxy" if a["via"] == "haproxy" else "direct"
        by_status[(via, kind, str(a["status"]) + (" " + code if code else ""), answered_by(a))] += 1
    finals = collections.Counter(v["final"] or "unresolved" for v in run.keys.values())
    acked = [v for v in run.keys.values() if v["ack"]]
    posts = [a for a in attempts if a["method"] == "POST" and a["via"] == "haproxy"]
    direct = [a for a in attempts if a["via"] != "haproxy"]
    table, notes = [], []

    if run.gw_kill:
        t_gw, wall_gw, victim = run.gw_kill
        first = first_success_after(run, t_gw)
        ok_times = sorted(a["t1"] for a in posts if a["status"] == 201)
        gap = max([b - a for a, b in zip(ok_times, ok_times[1:]) if t_gw - 1 <= b <= t_gw + 10], default=None)
        # Requests that were open at the kill and ended without an answer to act on.
        failed = [a for a in posts if a["t0"] <= t_gw + 0.1 and a["t1"] >= t_gw - 1.0 and a["t1"] <= t_gw + 10
                  and (not isinstance(a["status"], int) or a["status"] >= 500) and a["code"] != "upstream_error"]
        inflight = {h["request_id"] for h in hap if h["server"] == victim
                    and h["accepted"] <= wall_gw + 0.1 and h["ended"] >= wall_gw - 1.0
                    and (h["term"][0] in "SC" or h["status"] in (502, 504, -1))}
        # On a reused client connection haproxy answers a request whose gateway died before
        # answering by closing the connection, and logs nothing (so that the client may
        # retry, as with a server closing a keep-alive connection; haproxy issue #1109).
        # Such a request, sent before the kill and cut within a second of it, was in flight
        # on the killed gateway: counted apart, never hidden.
        unlogged = [a for a in failed if a["request_id"] not in served]
        extra = [a for a in failed if a["request_id"] in served and a["request_id"] not in inflight]
        table += [
            (f"gateway kill ({victim}): seconds from the kill to the first 201 for a request sent after it",
             fmt_t(first - t_gw if first else None)),
            (f"gateway kill ({victim}): longest gap between two 201s in the 10 s after it, s", fmt_t(gap)),
            (f"gateway kill ({victim}): requests haproxy logged as cut on {victim} at the kill", len(inflight)),
            (f"gateway kill ({victim}): client requests that failed at the kill", len(failed)),
            (f"gateway kill ({victim}): of those, answered by another gateway or haproxy without {victim} (should be 0)",
             len(extra)),
        ]
        kinds = collections.Counter(f"{a['status']}" + (f" {a['code']}" if a["code"] else "") for a in failed)
        # How long those orders took to settle, and how: the order was debited on the dead
        # gateway, so its key answers 409 until reconciliation settles it.
        last = {}
        for a in attempts:
            last[a["key"]] = max(last.get(a["key"], 0), a["t1"])
        cut_keys = sorted({a["key"] for a in failed})
        settle = [last[k] - t_gw for k in cut_keys]
        table.append((f"gateway kill ({victim}): seconds until the cut orders had their final answer (longest)",
                      fmt_t(max(settle) if settle else None)))
        cut_finals = collections.Counter(run.keys[k]["final"] for k in cut_keys)
        notes.append(
            f"Gateway kill ({victim}, t={t_gw:.1f}s): {len(failed)} order request(s) failed at the kill "
            f"({', '.join(f'{k} x{v}' for k, v in kinds.items()) or 'none'}); haproxy logged "
            f"{len(inflight)} request(s) cut on {victim}"
            + (f", and {len(unlogged)} failed request(s) have no haproxy log line (a keep-alive connection "
               "haproxy closed when its gateway died)" if unlogged else "")
            + (f"; {len(extra)} failure(s) were NOT on {victim}: target missed" if extra
               else f"; no other request failed: the kill cost only what was in flight on {victim}")
            + ". Each was retried with its key until settled: "
            + (", ".join(f"{k} x{v}" for k, v in cut_finals.items()) or "none")
            + (f", the last {max(settle):.0f} s after the kill (409 `idempotency_in_progress` until reconciliation "
               "settles an order whose gateway died mid-provisioning)" if settle else "") + ".")

    if run.db_kill:
        t_db, wall_db, old = run.db_kill
        first = first_success_after(run, t_db)
        window = [a for a in posts if t_db <= a["t0"] and (first is None or a["t1"] <= first)]
        statuses = collections.Counter(f"{a['status']}" + (f" {a['code']}" if a["code"] else "") + f" ({answered_by(a)})"
                                       for a in window)
        dwindow = [a for a in direct if t_db <= a["t0"] and (first is None or a["t1"] <= first + 5)]
        dstatuses = collections.Counter(f"{a['status']}" + (f" {a['code']}" if a["code"] else "") for a in dwindow)
        outage = first - t_db if first is not None else None
        table += [
            (f"primary kill ({old}): seconds without a successful order (kill to the first 201 for a request sent after it)",
             fmt_t(outage)),
            (f"primary kill ({old}): seconds until Patroni reported the new primary",
             fmt_t(run.new_primary_t - t_db if run.new_primary_t else None)),
        ]
        notes.append(f"Primary kill ({old}, t={t_db:.1f}s): orders sent through haproxy during the outage were answered "
                     f"{', '.join(f'{k} x{v}' for k, v in statuses.most_common()) or 'nothing'}. Orders succeeded again "
                     f"{fmt_t(outage)} s after the kill (target 30 s: {'met' if outage is not None and outage <= 30 else 'MISSED'}).")
        notes.append("The direct client (straight to the gateways, bypassing haproxy's health checks) was answered "
                     f"{', '.join(f'{k} x{v}' for k, v in dstatuses.most_common()) or 'nothing'} during the outage: "
                     "what a gateway itself says while no primary answers.")
    if run.switchover:
        t_sw, _, was = run.switchover
        ok_times = sorted(a["t1"] for a in posts if a["status"] == 201)
        gap = max([b - a for a, b in zip(ok_times, ok_times[1:]) if t_sw <= b <= t_sw + 60], default=None)
        window = [a for a in attempts if t_sw - 5 <= a["t0"] and a["t1"] <= t_sw + 30
                  and a["status"] not in (200, 201, 202, 409, 429) and a["code"] != "upstream_error"]
        statuses = collections.Counter(f"{a['via'].split(':')[0]} {a['status']}" + (f" {a['code']}" if a["code"] else "")
                                       for a in window)
        table.append((f"switchover (from {was}): longest gap between two 201s in the minute after it started, s", fmt_t(gap)))
        notes.append(f"Planned switchover (t={t_sw:.1f}s): failed answers around it: "
                     f"{', '.join(f'{k} x{v}' for k, v in statuses.most_common()) or 'none'}.")
    five_hundreds = [a for a in attempts if a["status"] == 500]
    if five_hundreds:
        notes.append(f"GATEWAY MISBEHAVIOUR: {len(five_hundreds)} answer(s) were 500 `internal_error` (first at "
                     f"t={five_hundreds[0]['t1']:.1f}s; X-Request-Id {', '.join(a['request_id'] for a in five_hundreds[:5])}): "
                     "look them up in the gateways' logs.")
    else:
        notes.append("No request was answered 500 `internal_error`, through haproxy or directly.")
    hung = [a for a in attempts if a["status"] == "timeout"]
    if hung:
        notes.append(f"{len(hung)} request(s) got no answer within the client's {CLIENT_TIMEOUT_S:.0f} s (first at "
                     f"t={hung[0]['t0']:.1f}s): the gateway held them past the partner's patience.")
    transitions = haproxy_events(offsets.get("haproxy", 0))
    notes.append("haproxy's health checks during the run: "
                 + ("; ".join(f"{srv} {state} ({why})" for srv, state, why in transitions) or "no change")
                 + ". Gateways go DOWN while their /readyz answers 503 (no primary) and when killed; the database "
                 "front end follows Patroni's /primary.")
    for gw, counts in gateway_log_findings(offsets).items():
        if counts:
            top = "; ".join(f"{n} x `{m}`" for m, n in counts.most_common(8))
            notes.append(f"{gw} logged (warnings and errors, counted, numbers replaced by N): {top}.")
        else:
            notes.append(f"{gw} logged no warning or error.")
    return by_status, finals, acked, posts, table, notes


# --- The report ----------------------------------------------------------------------------------
def fmt_t(t):
    return "-" if t is None else f"{t:.1f}"


def write_report(path, run, args, checks, passed, figures, notes):
    lines = []
    add = lines.append
    started = datetime.datetime.fromtimestamp(run.t0, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    add("# Chaos run")
    add("")
    add(f"Run `{run.run_id}`, started {started}, by `deploy/chaos` "
        f"({args.partners} partners x {args.clients} clients, {len(GATEWAYS)} gateways, nodes {' and '.join(PG_NODES)}). "
        f"Gateway binary: {figures['binary']}. Machine: {os.cpu_count()} cores, load average "
        f"{figures['load'][0]} at the start and {figures['load'][1]} at the end (other builds share it).")
    add("")
    add(f"**Result: {'PASS' if passed else 'FAIL'}** — acknowledged orders lost: **{figures['lost']}**, "
        f"double debits: **{figures['double']}**, debits for orders never received: **{figures['never_got']}**.")
    add("")
    add("## Timeline")
    add("")
    add("| t (s) | event |")
    add("|---:|---|")
    add("| 0.0 | load starts |")
    for t, what, detail in run.events:
        add(f"| {t:.1f} | {what}{': ' + detail if detail else ''} |")
    add(f"| {fmt_t(figures['load_end'])} | load stops; clients finish their orders |")
    add("")
    add("## Checks (on the new primary)")
    add("")
    add("| check | result | figures |")
    add("|---|---|---|")
    for name, ok, summary, offenders in checks:
        add(f"| {name} | {'PASS' if ok else '**FAIL**'} | {summary} |")
    offenders = [(n, o) for n, ok, _, o in checks if o]
    if offenders:
        add("")
        for name, items in offenders:
            add(f"- {name}:")
            for item in items[:15]:
                add(f"  - {item}")
            if len(items) > 15:
                add(f"  - ... {len(items) - 15} more")
    add("")
    add("## Figures")
    add("")
    add("Requests by status: every HTTP attempt the clients made, by path (`haproxy`: the partners; `direct`: one")
    add("client straight to the gateways, bypassing haproxy) and by who answered, read from haproxy's log")
    add("(`conn_error`/`timeout`: no HTTP answer).")
    add("")
    add("| via | request | status | answered by | count |")
    add("|---|---|---|---|---:|")
    for (via, kind, status, who), n in sorted(figures["by_status"].items()):
        add(f"| {via} | {kind} | {status} | {who} | {n} |")
    add("")
    add("Orders (one Idempotency-Key each), by the client's final answer:")
    add("")
    add("| final answer | keys |")
    add("|---|---:|")
    for final, n in sorted(figures["finals"].items()):
        add(f"| {final} | {n} |")
    add("")
    add("| figure | value |")
    add("|---|---:|")
    for name, value in figures["table"]:
        add(f"| {name} | {value} |")
    add("")
    add("## What the gateways and haproxy did")
    add("")
    for note in notes:
        add(f"- {note}")
    add("")
    add(f"Raw data: every attempt in `{os.path.relpath(run.run_dir, ROOT)}/attempts.jsonl`; logs in `{os.path.relpath(os.path.join(DATA, 'log'), ROOT)}/`.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=4)
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients per partner")
    parser.add_argument("--credits", type=float, default=20000.0, help="dollars credited to each partner")
    parser.add_argument("--gateway", default=GATEWAYS[1], help="the gateway to kill")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--gateway-down", type=float, default=15)
    parser.add_argument("--between", type=float, default=50,
                        help="seconds between the gateway's restart and the primary kill (the gateway kill's orders settle first)")
    parser.add_argument("--before-rejoin", type=float, default=15)
    parser.add_argument("--tail", type=float, default=20)
    parser.add_argument("--switchover", action="store_true",
                        help="after the rejoin, also hand the primary back with `patronictl switchover` (planned maintenance)")
    parser.add_argument("--results", default=os.path.join(DEPLOY, "results", "chaos.md"))
    args = parser.parse_args()

    run_id = "chaos-" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    run_dir = os.path.join(DATA, "chaos", run_id)
    os.makedirs(run_dir, exist_ok=True)
    log(f"seeding {args.partners} partners and a direct one ({run_id}) through haproxy")
    seeded = seed(run_id, [f"p{i}" for i in range(1, args.partners + 1)] + ["direct"], args.credits)
    plan = cheapest_plan(seeded[0][1])
    log(f"plan {plan['planId']} ({plan['price']} USD to partners); logs since now")

    run = Run(run_dir)
    run.loadavg = loadavg()
    run.run_id, run.run_dir = run_id, run_dir
    run.gw_kill = run.db_kill = run.switchover = None
    run.new_primary_t = None
    offsets = log_offsets()
    clients = [Client(run, p, key, plan, c) for p, key in seeded[:-1] for c in range(1, args.clients + 1)]
    # One more partner whose client talks to the gateways directly, bypassing haproxy.
    clients.append(Client(run, seeded[-1][0], seeded[-1][1], plan, 1, ports=GW_PORTS))
    for c in clients:
        c.start()
    failure = None
    try:
        scenario(run, args)
    except Exception as e:  # the scenario broke: still stop the clients and report
        failure = str(e)
        run.event("scenario_failed", failure)
    run.stop_placing.set()
    load_end = run.now()
    run.give_up_at = time.time() + 180
    log("load stopped; waiting for every client to settle its last order")
    for c in clients:
        c.join(timeout=200)

    primary = primary_node()
    if primary is None:
        raise SystemExit("no primary at the end of the run: cannot check")
    url = node_url(primary)
    ids = ",".join(f"'{p['id']}'" for p, _ in seeded)
    log(f"waiting for reconciliation to settle every order (on {primary})")
    unsettled = settle_wait(run, url, ids)

    retried = [k for k, v in run.keys.items() if v["attempts"] > 1]
    others = [k for k, v in run.keys.items() if v["attempts"] == 1]
    sample = retried + random.Random(1).sample(others, min(40, len(others)))
    log(f"replaying {len(sample)} keys ({len(retried)} that needed retries)")
    run.phase = "replay"
    replayed, replay_mismatch = replay_keys(run, clients, sample)

    log(f"checking the books on {primary}")
    credit_cents = round(args.credits * 100)
    checks, orders = check_books(run, url, seeded, credit_cents)
    checks.insert(1, ("The same request again with a key already answered returns the same order", not replay_mismatch,
                      f"{replayed} keys replayed after the run", replay_mismatch))
    checks.append(("No order left pending or processing after reconciliation (the reconcilers resumed after the failover)",
                   unsettled == 0, f"{unsettled} unsettled", []))
    ok, summary, slow = check_revocation(seeded[0][0])
    checks.append(("After the failover every gateway's LISTEN connection works: a key revoked with the CLI is refused "
                   "by each gateway within 5 s", ok, summary, slow))
    unresolved = [k for k, v in run.keys.items() if v["final"] is None or v["final"].startswith("unresolved")]
    checks.append(("Every order got a final answer (clients retried until it did)", not unresolved,
                   f"{len(unresolved)} unresolved of {len(run.keys)}", unresolved))
    standby = sync_standby()
    if standby and standby != primary:
        same, a, b = check_standby(url, node_url(standby), ids)
        checks.append((f"The synchronous standby ({standby}) holds the same orders, balances and eSIMs", same,
                       f"primary {a}, standby {b} (orders, balance cents, eSIMs)", [] if same else [f"primary {a}", f"standby {b}"]))
    else:
        checks.append(("The synchronous standby holds the same data", False, "no synchronous standby at the end", []))
    if failure:
        checks.append(("The scenario ran to the end", False, failure, []))

    with run.lock:
        attempts = [a for a in run.attempts if a["phase"] == "load"]
    by_status, finals, acked, posts, table, notes = analyse(run, attempts, offsets)
    retried = [k for k, v in run.keys.items() if v["attempts"] > 1]

    lost = len(next(c for c in checks if c[0].startswith("Every order a client saw"))[3])
    double = len(next(c for c in checks if c[0].startswith("No double debit"))[3])
    never_got = len(next(c for c in checks if c[0].startswith("No partner was debited"))[3])
    table[:0] = [
        ("orders placed (keys)", len(run.keys)),
        ("orders acknowledged (201, or 202 then completed)", len(acked)),
        ("acknowledged orders lost", lost),
        ("POST /v1/order attempts", len(posts)),
        ("keys that needed retries", len(retried)),
    ]
    try:
        with open(BIN + ".source") as f:
            binary = f.read().strip()
    except OSError:
        binary = "unknown"
    figures = {"by_status": by_status, "finals": finals, "table": table, "lost": lost, "double": double,
               "never_got": never_got, "load_end": load_end, "binary": binary,
               "load": (run.loadavg, loadavg())}
    # API.md: a database outage is a 503 (or, after a debit, the truthful 202/502), never a 500.
    five_hundreds = [a for a in attempts if a["status"] == 500]
    checks.append(("No request was answered 500 `internal_error` (through haproxy or directly)", not five_hundreds,
                   f"{len(five_hundreds)} answers" + (f", first at t={five_hundreds[0]['t1']:.1f}s" if five_hundreds else ""),
                   [a["request_id"] for a in five_hundreds]))
    passed = all(ok for _, ok, _, _ in checks)
    write_report(args.results, run, args, checks, passed, figures, notes)
    log(f"{'PASS' if passed else 'FAIL'}: {len(acked)} acknowledged, {lost} lost, {double} double debits; report in {os.path.relpath(args.results, ROOT)}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
