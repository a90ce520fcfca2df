"""`gridops devices import|ingest|simulate|passwd-file|acl|schemas` and the embedded demo broker."""

from __future__ import annotations

import argparse
import csv
import logging
import signal
import sys
import threading
from pathlib import Path

from devices.shards import EVERY_DEVICE, Shard
from server.cli.common import keys_refused
from server.config import Settings, get_settings
from server.database.types import utcnow
from server.errors import GridopsError

log = logging.getLogger("gridops.devices")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _import(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server import sheets
    from server.devices import imports

    sheet = sheets.read(Path(args.path).read_bytes(), args.path)
    with get_sessionmaker()() as db_session:
        report = imports.import_rows(db_session=db_session, sheet=sheet, default_datum=args.datum, now=utcnow(),
                                     dry_run=args.dry_run, issue_secrets=bool(args.secrets_out))
        if report.committed:
            db_session.commit()
    for e in report.errors:
        print(f"{'ERROR' if e.blocking else 'WARN '} 第{e.row}行 {e.column or ''} [{e.code}] {e.message_zh} / {e.message}")
    if report.committed and args.secrets_out:
        with open(args.secrets_out, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["code", "username", "secret"])
            w.writerows([c.code, c.username, c.secret] for c in report.credentials)
        print(f"secrets of {len(report.credentials)} devices written to {args.secrets_out} (shown once: keep it safe)")
    print(f"{report.rows} rows read, {len(report.created)} devices created, committed={report.committed}")
    return 0 if report.committed or (args.dry_run and not any(e.blocking for e in report.errors)) else 1


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _mqtt_overrides(args: argparse.Namespace) -> dict[str, object]:
    pairs = {"host": args.host, "port": args.port, "username": args.username, "password": args.password,
             "protocol": args.protocol}
    return {k: v for k, v in pairs.items() if v is not None}


def _ingest(args: argparse.Namespace) -> int:
    from server.database.core import get_direct_engine, get_sessionmaker
    from server.database.singleton import standby
    from server.devices import runner

    _logging()
    settings = get_settings()
    if keys_refused(settings):
        return 2
    shard: Shard = args.shard
    overrides = _mqtt_overrides(args)
    overrides["client_id"] = shard.client_id(args.client_id or settings.mqtt_client_id)
    stop = _stop_on_signals()
    with standby(get_direct_engine(), shard.job, stop, waiting=lambda: log.info(
            "another ingester holds %r: waiting as a hot standby / 另一进程正在运行该分片，本进程热备等待", shard.job)) as holding:
        if holding is None:
            return 0
        svc = runner.start(get_sessionmaker(), runner.mqtt_config(settings, **overrides),
                           runner.ingest_config(settings), shard)
        if not args.no_card_sync:
            from server.rentals.scheduled import start_card_sync

            start_card_sync(get_sessionmaker(), stop, no_entry_days=settings.tenant_no_entry_days,
                            lock_engine=get_direct_engine())
        while not stop.wait(args.report_every):
            if not holding():
                log.error("lost the database connection that holds %r: stopping so that a standby takes over "
                          "/ 失去分片锁，停止运行", shard.job)
                svc.stop()
                return 1
            s = svc.ingester.stats
            log.info("processed %d (accepted %s; dead letters %s; other shards %d), %d batches, queue %d", s.processed,
                     dict(s.accepted), dict(s.dead), s.other_shard, s.batches, svc.ingester.queue.qsize())
        svc.stop()
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from devices.client import MqttConfig
    from devices.simulator import SimConfig, Simulator

    _logging()
    settings = get_settings()
    if args.register:
        from server.database.core import get_sessionmaker
        from server.devices.fleet import register_fleet

        with get_sessionmaker()() as db_session:
            added = register_fleet(db_session=db_session, count=args.count, prefix=args.prefix, now=utcnow(),
                                   interval_s=int(args.interval))
            db_session.commit()
        print(f"registered {added} simulated devices")
    fields: dict[str, object] = {"host": settings.mqtt_host, "port": settings.mqtt_port,
                                 "client_id": f"gridops-sim-{args.prefix}", **_mqtt_overrides(args)}
    mqtt = MqttConfig(**fields)  # type: ignore[arg-type]
    sim = Simulator(SimConfig(count=args.count, interval_s=args.interval, duration_s=args.duration,
                              prefix=args.prefix, connections=args.connections, outage_share=args.outage_share), mqtt)
    stats = sim.run(_stop_on_signals())
    sim.close()
    seconds = stats.stopped - stats.started
    print(f"published {stats.total} messages in {seconds:.1f} s ({stats.total / max(seconds, 1e-9):.0f}/s): "
          f"{dict(stats.published)}")
    return 0


def _passwd_file(args: argparse.Namespace) -> int:
    from devices import credentials
    from server.database.core import get_sessionmaker
    from server.devices import service

    with get_sessionmaker()() as db_session:
        entries = service.password_entries(db_session=db_session)
    for account in args.user or []:
        name, _, password = account.partition(":")
        entries.append((name, credentials.hash_secret(password)))
    Path(args.out).write_text(credentials.password_file(entries), encoding="utf-8")
    Path(args.out).chmod(0o600)
    print(f"{len(entries)} accounts written to {args.out}; reload Mosquitto (kill -HUP) to apply")
    return 0


def _acl(args: argparse.Namespace) -> int:
    from devices.topics import acl_lines

    Path(args.out).write_text("\n".join(acl_lines(args.ingester_user, args.simulator_user)) + "\n", encoding="utf-8")
    print(f"ACL written to {args.out}")
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from devices.payloads import write_schemas

    for p in write_schemas(Path(args.out)):
        print(p)
    return 0


def _sync_cards(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.rentals.cards import sync_cards

    with get_sessionmaker()() as db_session:
        report = sync_cards(db_session=db_session, no_entry_days=args.no_entry_days, now=utcnow())
        db_session.commit()
    print(f"{report.events} card events read: {report.registrations} pending registrations, "
          f"{report.deregistrations + report.no_entry} deregistration candidates ({report.no_entry} for no entry)")
    return 0


def _guard(func):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except GridopsError as exc:
            print(f"error [{exc.code}]: {exc.message_zh} / {exc.message_en}", file=sys.stderr)
        return 2

    return run


def _mqtt_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="MQTT broker host (default GRIDOPS_MQTT_HOST)")
    p.add_argument("--port", type=int, help="MQTT broker port (default GRIDOPS_MQTT_PORT)")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--protocol", type=int, choices=(5, 311))


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dev = sub.add_parser("devices", help="device registry, MQTT ingester and simulator").add_subparsers(
        dest="devices_command", required=True)
    imp = dev.add_parser("import", help="register devices from a 点位台账 (.xlsx/.csv); all or nothing")
    imp.add_argument("path")
    imp.add_argument("--datum", default="cgcs2000", help="datum of rows without 坐标系 (wgs84, gcj02, bd09, cgcs2000)")
    imp.add_argument("--dry-run", action="store_true")
    imp.add_argument("--secrets-out", help="issue MQTT secrets and write them to this CSV (shown once)")
    imp.set_defaults(func=_guard(_import))

    ing = dev.add_parser("ingest", help="run the MQTT ingester (long-running; SIGTERM stops it cleanly)")
    _mqtt_args(ing)
    ing.add_argument("--client-id", help="MQTT client id: the persistent session (default GRIDOPS_MQTT_CLIENT_ID; "
                                         "with --shard K/N, '-KofN' is added)")
    ing.add_argument("--shard", type=_shard, default=EVERY_DEVICE, metavar="K/N",
                     help="run shard K of N: only the devices whose code hashes to K (default 1/1, every device); "
                          "one process per shard holds its lock in the database, further copies wait as hot standbys")
    ing.add_argument("--report-every", type=float, default=60.0, metavar="S", help="log counters every S seconds")
    ing.add_argument("--no-card-sync", action="store_true",
                     help="do not turn card events into tenant detections every minute (rentals)")
    ing.set_defaults(func=_ingest)

    sim = dev.add_parser("simulate", help="publish heartbeats, outages and door events for a simulated fleet")
    _mqtt_args(sim)
    sim.add_argument("--count", type=int, default=20_000)
    sim.add_argument("--interval", type=float, default=60.0, help="heartbeat interval, seconds")
    sim.add_argument("--duration", type=float, help="seconds to run (default: until interrupted)")
    sim.add_argument("--prefix", default="SIM")
    sim.add_argument("--connections", type=int, default=4)
    sim.add_argument("--outage-share", type=float, default=0.02)
    sim.add_argument("--register", action="store_true", help="first register the simulated devices that are missing")
    sim.set_defaults(func=_simulate)

    pw = dev.add_parser("passwd-file", help="write Mosquitto's password_file from the registry")
    pw.add_argument("out")
    pw.add_argument("--user", action="append", metavar="NAME:PASSWORD", help="an extra account (ingester, simulator)")
    pw.set_defaults(func=_passwd_file)

    acl = dev.add_parser("acl", help="write Mosquitto's acl_file (devices write only their own topics)")
    acl.add_argument("out")
    acl.add_argument("--ingester-user", default="gridops-ingester")
    acl.add_argument("--simulator-user", help="also let this account publish for every device (demo only)")
    acl.set_defaults(func=_acl)

    sch = dev.add_parser("schemas", help="write the payload JSON Schemas (devices/schemas) to a folder")
    sch.add_argument("out")
    sch.set_defaults(func=_schemas)


def add_rentals_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rentals = sub.add_parser("rentals", help="rental housing and tenants").add_subparsers(
        dest="rentals_command", required=True)
    sync = rentals.add_parser("sync-cards", help="turn new access-controller card events into tenant detections")
    sync.add_argument("--no-entry-days", type=int, default=get_settings().tenant_no_entry_days)
    sync.set_defaults(func=_guard(_sync_cards))
    from server.cli.rentals_cmd import add_import

    add_import(rentals)


def start_embedded(settings: Settings) -> object | None:
    """`gridops serve` with GRIDOPS_MQTT_EMBEDDED: amqtt broker + ingester (+ demo fleet) in-process."""
    if not settings.mqtt_embedded:
        return None
    from server.database.core import get_sessionmaker
    from server.devices.embedded import start
    from server.rentals.scheduled import start_card_sync

    try:
        embedded = start(settings)
    except Exception:  # the API must come up even if the demo broker cannot
        logging.getLogger(__name__).exception("embedded MQTT broker/ingester not started")
        return None
    # The entry point wires rentals to devices, as `gridops devices ingest` does: devices never import rentals.
    start_card_sync(get_sessionmaker(), embedded.stop_event, no_entry_days=settings.tenant_no_entry_days)
    return embedded
