"""bench.cpu attributes each process of the stack to one role by its command line."""

from bench.cpu import CpuMeter, classify


def test_pool_children_count_as_render_workers_not_as_the_processor() -> None:
    # a multiprocessing child's command line also names the interpreter of the processor
    child = "/work/.venv/bin/python -c from multiprocessing.spawn import spawn_main"
    assert classify(child) == "render workers"
    assert classify("/work/.venv/bin/photostream process media") == "media processor"


def test_servers_are_recognised_and_strangers_ignored() -> None:
    assert classify("java -Xmx1g org.apache.cassandra.service.CassandraDaemon") == "cassandra"
    assert classify("java kafka.Kafka /tmp/server.properties") == "kafka"
    assert classify("redis-server 127.0.0.1:6379") == "redis"
    assert classify("/usr/bin/bash -l") is None


def test_a_meter_sums_per_role_and_orders_by_cost() -> None:
    meter = CpuMeter(seconds={"kafka": 1.5, "cassandra": 3.0, "redis": 0.5})
    assert meter.by_cost()[0] == ("cassandra", 3.0)
    assert meter.total == 5.0
