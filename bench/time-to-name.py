#!/usr/bin/env python3
"""bench/time-to-name.py: the Python half of bench/time-to-name.sh (standard library only).

  people MANIFEST PEOPLE_TSV SHOWN_TSV
      The people of FACES_DIR's MANIFEST.tsv with at least 3 one-face photos (faces_hog_upsample1 = 1; identities
      multi, none and unlabeled_single left out). PEOPLE_TSV: person, enrolment photo (the first listed). SHOWN_TSV:
      person, photo for each appearance, in the order shown: everyone once per round, each person's other photos in
      turn, starting over when used up, for as many rounds as the person with the most photos needs. Taking people
      in turn brings a person back to one camera no sooner than one appearance per person later.
  join SIM_JSON EVENTS_JSON CPU_SAMPLES PHOTOS_TSV APPEARANCE_S NAME_WITHIN_MS CLK_TCK PHOTO_STATS
      One run's figures as one tab-separated line: appearances, named, recall %, wrong, unknown_face events,
      appearances unsent, time-to-name p50 p90 p99 max (ms), upload p99 (ms), non-2xx, server CPU (% of one core
      over the simulator's run, from CPU_SAMPLES' "wall_ms ticks" lines); "n/a" where there is nothing to measure.
      Appends "photo<TAB>named (0/1)" per appearance shown (frames_sent > 0) to PHOTO_STATS, the photo as in
      FACES_DIR through PHOTOS_TSV (the simulator's path, the photo's).
"""
import csv
import json
import math
import sys


def people(manifest, people_path, shown_path):
    photos = {}  # identity -> its one-face photos, in the manifest's order
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["identity"] in ("multi", "none", "unlabeled_single") or row["faces_hog_upsample1"] != "1":
                continue
            photos.setdefault(row["identity"], []).append(row["file"])
    chosen = [(person, files) for person, files in photos.items() if len(files) >= 3]
    with open(people_path, "w") as f:
        for person, files in chosen:
            f.write(f"{person}\t{files[0]}\n")
    with open(shown_path, "w") as f:
        for r in range(max(len(files) - 1 for _, files in chosen)):
            for person, files in chosen:
                f.write(f"{person}\t{files[1:][r % (len(files) - 1)]}\n")


def rank(values, percent):
    """Nearest-rank percentile of sorted values; n/a when there are none."""
    return values[max(1, math.ceil(percent / 100 * len(values))) - 1] if values else "n/a"


def cpu_percent(samples, t0, t1, clk_tck):
    """% of one core from t0 to t1 (wall ms), the tick counts interpolated between the samples around each."""
    def ticks_at(ms):
        for (s0, c0), (s1, c1) in zip(samples, samples[1:]):
            if s0 <= ms <= s1:
                return c0 + (c1 - c0) * (ms - s0) / (s1 - s0) if s1 > s0 else c0
        return None
    c0, c1 = ticks_at(t0), ticks_at(t1)
    if c0 is None or c1 is None or t1 <= t0:
        return "n/a"
    return f"{100 * (c1 - c0) / clk_tck / ((t1 - t0) / 1000):.1f}"


def join(sim_path, events_path, cpu_path, photos_path, appearance_s, within_ms, clk_tck, stats_path):
    appearance_ms, within_ms, clk_tck = float(appearance_s) * 1000, int(within_ms), int(clk_tck)
    with open(sim_path) as f:
        sim = json.load(f)
    with open(events_path) as f:
        events = json.load(f)
    with open(photos_path) as f:
        original = dict(line.rstrip("\n").split("\t") for line in f if line.strip())
    with open(cpu_path) as f:
        samples = sorted(tuple(map(int, line.split())) for line in f if line.strip())
    apps = sim.get("appearances", [])

    recognised = {}  # device -> [(ts, name)]
    for e in events:
        if e["type"] == "person_recognised":
            recognised.setdefault(e["device_id"], []).append((e["ts"], e["name"]))
    ttn = []
    with open(stats_path, "a") as stats:
        for a in apps:
            hits = [ts - a["start_ms"] for ts, name in recognised.get(a["device_id"], [])
                    if name == a["person"] and 0 <= ts - a["start_ms"] <= within_ms]
            if hits:
                ttn.append(min(hits))
            if a["frames_sent"] > 0:
                stats.write(f"{original.get(a['photo'], a['photo'])}\t{1 if hits else 0}\t{min(hits) if hits else ''}\n")
    ttn.sort()
    wrong = sum(1 for device, seen in recognised.items() for ts, name in seen
                if not any(a["device_id"] == device and a["person"] == name
                           and a["start_ms"] <= ts <= a["start_ms"] + appearance_ms + within_ms for a in apps))
    print("\t".join(str(v) for v in [
        len(apps), len(ttn), f"{100 * len(ttn) / len(apps):.1f}" if apps else "n/a", wrong,
        sum(1 for e in events if e["type"] == "unknown_face"), sum(1 for a in apps if a["frames_sent"] == 0),
        rank(ttn, 50), rank(ttn, 90), rank(ttn, 99), rank(ttn, 100),
        f"{sim['total']['latency_ms']['p99']:.1f}", sim["total"]["non_2xx"],
        cpu_percent(samples, sim["started_ms"], sim["ended_ms"], clk_tck)]))


if __name__ == "__main__":
    commands = {"people": (people, 3), "join": (join, 8)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) - 2 != commands[sys.argv[1]][1]:
        sys.exit(__doc__)
    commands[sys.argv[1]][0](*sys.argv[2:])
