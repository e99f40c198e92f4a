"""Drive the faust spike worker: startup, kill -9 redelivery, changelog recovery, agent raise."""
import asyncio, os, random, signal, subprocess, sys, time
from aiokafka import TopicPartition
sys.path.insert(0, "/work/wt/trending")
from infra.connect import kafka, redis as rc
from infra.settings import get_settings
from producers.publisher import Publisher
from schemas.envelope import make
from schemas.ids import EPOCH_MS, make_id
from schemas.media import Derivative, PhotoProcessed, Placeholder

S = get_settings()
APP = os.environ.get("SPIKE_APP") or f"trending-spike-{random.getrandbits(20)}"
LOG = f"/tmp/trending-spike/{APP}.log"
HOUR = 3600

def pid():
    return make_id(int(time.time()*1000) - EPOCH_MS, random.randrange(8192), random.randrange(1024))

def photo(tag, photo_id=None):
    p = photo_id or pid()
    return make(PhotoProcessed(photo_id=p, owner_id=7, media_kind="photo", original_width=8,
        original_height=8, duration_ms=None,
        derivatives=(Derivative(name="thumb", key=f"{p}/t.jpg", width=8, height=8, bytes=1,
                                content_type="image/jpeg"),),
        placeholder=Placeholder(dominant_color="#000000", blurhash=None),
        caption=f"#{tag}", title="", location=None), producer="spike")

def start(extra_env=None):
    env = dict(os.environ, SPIKE_APP=APP, **(extra_env or {}))
    log = open(LOG, "a")
    return subprocess.Popen([sys.executable, "-m", "processors.trending_faust", "worker", "-l", "info",
                             "--without-web"], cwd="/work/wt/trending", env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)

async def score(r, kind, tag):
    h = int(time.time() // HOUR)
    v = await r.zscore(f"trendspike:{{{h}}}:{kind}", tag)
    return None if v is None else int(v)

async def wait(pred, timeout):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if await pred():
            return time.monotonic() - t
        await asyncio.sleep(0.1)
    return None

async def committed(tp):
    admin = kafka.admin(S); await admin.start()
    try:
        o = await admin.list_consumer_group_offsets(APP)
        return {k.partition: v.offset for k, v in o.items() if k.topic == tp}
    finally:
        await admin.close()

async def main():
    r = rc.client(S)
    pub = Publisher(S); await pub.start()
    u = random.getrandbits(24)
    t1, t2, boom, t3 = f"spikea{u}", f"spikeb{u}", f"spikeboom{u}", f"spikec{u}"
    print("app", APP, "eos", bool(os.environ.get("SPIKE_EOS")))
    if os.environ.get("SPIKE_WARM"):
        t0 = time.monotonic(); w = start({"SPIKE_EOS": "1"} if os.environ.get("SPIKE_EOS") else {})
        while "Worker]: Ready" not in open(LOG).read():
            await asyncio.sleep(0.1)
        print(f"W first start (creates topics) -> Ready {time.monotonic()-t0:.1f}s")
        w.send_signal(signal.SIGTERM); w.wait(60)
    # A. startup: worker start -> first event counted
    t0 = time.monotonic(); w = start({"SPIKE_EOS": "1"} if os.environ.get("SPIKE_EOS") else {})
    await pub.publish(photo(t1))
    d = await wait(lambda: _eq(r, "tags", t1, 1), 180)
    print(f"A startup->first count: {None if d is None else round(time.monotonic()-t0,1)}s")
    if d is None:
        w.send_signal(signal.SIGKILL); return
    # B. 19 more distinct photos
    await pub.publish_many([photo(t1) for _ in range(19)])
    d = await wait(lambda: _eq(r, "tags", t1, 20), 60)
    print(f"B 20 photos: distinct={await score(r,'tags',t1)} hits={await score(r,'hits',t1)} in {d and round(d,2)}s")
    # C. kill -9 right after 20 photos of t2 are counted (before faust's 2.8 s commit)
    await pub.publish_many([photo(t2) for _ in range(20)])
    await wait(lambda: _eq(r, "hits", t2, 20), 60)
    w.send_signal(signal.SIGKILL); w.wait()
    print("C killed -9 after t2 counted: committed", await committed("photostream.media.processed"))
    t0 = time.monotonic(); w = start({"SPIKE_EOS": "1"} if os.environ.get("SPIKE_EOS") else {})
    await pub.publish(photo(t1))   # table must continue from 20 (changelog recovery)
    d = await wait(lambda: _eq(r, "tags", t1, 21), 240)
    print(f"C restart->recovered and counting: {None if d is None else round(time.monotonic()-t0,1)}s;"
          f" t1 distinct={await score(r,'tags',t1)} hits={await score(r,'hits',t1)}")
    await asyncio.sleep(5)
    print(f"C after redelivery: t2 distinct={await score(r,'tags',t2)} hits={await score(r,'hits',t2)} (sent 20)")
    # D. agent raises on one photo; same key (photo id) for the next one, so same partition
    same = pid()
    m1 = await pub.publish(photo(boom, same))
    m2 = await pub.publish(photo(t3, same))
    d = await wait(lambda: _eq(r, "tags", t3, 1), 60)
    await asyncio.sleep(8)
    c = await committed("photostream.media.processed")
    print(f"D boom at p{m1.partition}@{m1.offset}, next @{m2.offset}: next counted after {d and round(d,2)}s;"
          f" committed p{m1.partition}={c.get(m1.partition)} (>{m1.offset} means the raising message was acked)")
    w.send_signal(signal.SIGTERM)
    try:
        w.wait(60)
    except subprocess.TimeoutExpired:
        w.send_signal(signal.SIGKILL); w.wait()
    raises = open(LOG).read().count("spike: agent raises")
    print(f"D raises logged: {raises}")
    # restart once more: is the raising message redelivered?
    w = start({"SPIKE_EOS": "1"} if os.environ.get("SPIKE_EOS") else {})
    await pub.publish(photo(t1)); await wait(lambda: _eq(r, "tags", t1, 22), 240)
    await asyncio.sleep(3)
    print(f"D after restart raises logged: {open(LOG).read().count('spike: agent raises')} (same => not redelivered)")
    w.send_signal(signal.SIGTERM)
    try:
        w.wait(60)
    except subprocess.TimeoutExpired:
        w.send_signal(signal.SIGKILL); w.wait()
    await pub.stop(); await r.aclose()

async def _eq(r, kind, tag, n):
    return (await score(r, kind, tag) or 0) >= n

asyncio.run(main())
