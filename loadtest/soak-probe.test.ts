import { describe, expect, it } from "vitest";
import {
  classifySockets,
  counterDelta,
  outcomeCounters,
  parseMetrics,
  parseTcpTable,
  readProcFigures,
  single,
} from "./soak-probe.ts";

// Trimmed from a real /proc/<pid>/net/tcp: the gateway listening on 127.0.0.1:33871 (0x844F), the
// inspector on 39231 (0x993F), a client connection to the gateway, a pooled connection to the provider
// on 37355 (0x91EB), and a time-wait socket (inode 0).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:844F 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:993F 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:844F 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C351 0100007F:91EB 01 00000000:00000000 00:00000000 00000000  1000        0 1004 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:C352 0100007F:844F 06 00000000:00000000 03:00000F9F 00000000     0        0 0 3 0000000000000000
`;

describe("parseTcpTable and classifySockets", () => {
  it("reads ports (hex) and state by inode", () => {
    const table = parseTcpTable(TCP);
    expect(table.get("1001")).toEqual({ localPort: 33871, remotePort: 0, state: "0A" });
    expect(table.get("1003")).toEqual({ localPort: 33871, remotePort: 50000, state: "01" });
    expect(table.get("1004")).toEqual({ localPort: 50001, remotePort: 37355, state: "01" });
  });

  it("sorts the process's own sockets into client, upstream, listening and other", () => {
    const table = parseTcpTable(TCP);
    const ports = { gateway: 33871, upstream: 37355 };
    // 2001: a Unix socket, not in the TCP table.
    expect(classifySockets(["1001", "1002", "1003", "1004", "2001"], table, ports)).toEqual({
      client: 1,
      upstream: 1,
      listening: 2,
      other: 1,
    });
    expect(classifySockets(["1001"], table, ports)).toEqual({ client: 0, upstream: 0, listening: 1, other: 0 });
  });

  it("reads this very process from /proc", () => {
    const figures = readProcFigures(process.pid, { gateway: 1, upstream: 2 });
    expect(figures.fds).toBeGreaterThan(2);
    expect(figures.sockets.client).toBe(0);
  });
});

const METRICS = `# HELP promptgate_nodejs_active_handles_total Total number of active handles.
# TYPE promptgate_nodejs_active_handles_total gauge
promptgate_nodejs_active_handles_total 4
promptgate_nodejs_heap_size_used_bytes 29254376
promptgate_requests_total{prompt="none",version="none",variant="none",model="paced/10x5/done",status="2xx"} 1200
promptgate_requests_total{prompt="none",version="none",variant="none",model="paced/10x5/hold",status="499"} 600
promptgate_requests_total{prompt="none",version="none",variant="none",model="paced/10x5/reset-0",status="2xx"} 20
promptgate_requests_total{prompt="none",version="none",variant="none",model="paced/10x5/reset-7",status="2xx"} 21
promptgate_requests_total{prompt="none",version="none",variant="none",model="gpt-test",status="2xx"} 5
promptgate_streams_interrupted_total{prompt="none",version="none",model="paced/10x5/reset-0",error_type="upstream_unreachable"} 20
promptgate_streams_interrupted_total{prompt="none",version="none",model="paced/10x5/reset-7",error_type="upstream_unreachable"} 21
promptgate_tokens_total{prompt="a \\"quoted\\", odd, name",version="1",variant="stable",model="m",status="2xx",type="input"} 3
`;

describe("parseMetrics", () => {
  it("reads names, labels (escapes and commas in values included) and values", () => {
    const samples = parseMetrics(METRICS);
    expect(single(samples, "promptgate_nodejs_active_handles_total")).toBe(4);
    expect(single(samples, "promptgate_nodejs_heap_size_used_bytes")).toBe(29254376);
    expect(samples.find((s) => s.name === "promptgate_tokens_total")).toEqual({
      name: "promptgate_tokens_total",
      labels: {
        prompt: 'a "quoted", odd, name',
        version: "1",
        variant: "stable",
        model: "m",
        status: "2xx",
        type: "input",
      },
      value: 3,
    });
  });

  it("fails loudly on a missing metric rather than reading 0", () => {
    expect(() => single(parseMetrics(METRICS), "promptgate_process_open_fds")).toThrow(
      /no promptgate_process_open_fds.*default metrics/,
    );
  });
});

describe("outcomeCounters and counterDelta", () => {
  it("sum the soak's models by stream kind and leave other models out", () => {
    expect(outcomeCounters(parseMetrics(METRICS))).toEqual({
      complete: { byStatus: { "2xx": 1200 }, interrupted: 0 },
      abort: { byStatus: { "499": 600 }, interrupted: 0 },
      reset: { byStatus: { "2xx": 41 }, interrupted: 41 },
    });
  });

  it("subtract the baseline, status by status", () => {
    const before = outcomeCounters(parseMetrics(METRICS));
    const after = outcomeCounters(
      parseMetrics(
        METRICS.replace('status="2xx"} 1200', 'status="2xx"} 1300') +
          'promptgate_requests_total{prompt="none",version="none",variant="none",model="paced/10x5/hold",status="499"} 7\n',
      ),
    );
    expect(counterDelta(before, after)).toEqual({
      complete: { byStatus: { "2xx": 100 }, interrupted: 0 },
      abort: { byStatus: { "499": 7 }, interrupted: 0 },
      reset: { byStatus: {}, interrupted: 0 },
    });
  });
});
