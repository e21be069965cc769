/* confab-bench-util.h: what both fan-out load generators share: the clock,
 * the latency histogram, CPU readings of processes and the machine, the
 * timed media payload and the in-place walk that finds it again. The WebSocket
 * generator (confab-bench-fanout.c) and the WebTransport one
 * (confab-bench-fanout-wt.c) must measure in exactly the same way for their
 * numbers to be compared. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Marks our payload inside MediaPacket.data, so a receiver never mistakes a
 * relay's own packet (or anything else) for a timed one. */
#define BENCH_MAGIC     "CFBENCH1"
#define BENCH_MAGIC_LEN 8
/* magic | send time (CLOCK_MONOTONIC ns) | room | sender | sequence */
#define BENCH_STAMP_LEN (BENCH_MAGIC_LEN + 8 + 4 + 4 + 4)

#define NS_PER_S G_GINT64_CONSTANT (1000000000)

typedef enum
{
  KIND_VIDEO = 0,
  KIND_AUDIO = 1,
  N_KINDS
} BenchKind;

/* Log-linear latency histogram in microseconds: 32 linear buckets per power
 * of two (about 3 % resolution), fixed size, no allocation per sample. */
#define HIST_SUB_BITS 5
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_BUCKETS  ((40 - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct
{
  guint64 counts[HIST_BUCKETS];
  guint64 total;
  gint64 max_ns;
} BenchHist;

gint64 confab_bench_now_ns (void);
void confab_bench_hist_add (BenchHist *h, gint64 ns);
/* The bucket's upper edge: a percentile is reported as at most this. */
double confab_bench_hist_percentile_ms (const BenchHist *h, double q);

/* utime + stime of every thread of @pid in seconds (0 for pid <= 0, -1 when
 * unreadable). */
double confab_bench_proc_cpu_seconds (int pid);
double confab_bench_self_cpu_seconds (void);
/* Busy CPU time of the whole machine (all CPUs, /proc/stat), in seconds. */
double confab_bench_machine_busy_seconds (void);
/* VmRSS / VmHWM of @pid (0 = ourselves) in KiB; 0 when unreadable. */
guint64 confab_bench_proc_status_kib (int pid, const char *field);

/* Finds varint field @vfield and length-delimited field @bfield of one
 * protobuf message; FALSE on malformed input. Missing fields leave the
 * outputs untouched. */
gboolean confab_bench_scan_message (const guint8 *buf,
                                    gsize len,
                                    guint vfield,
                                    guint64 *vout,
                                    guint bfield,
                                    const guint8 **bout,
                                    gsize *blen);

/* A PacketWrapper{MEDIA, MediaPacket{...}} shaped like what confab-cli sends
 * for 640x360 VP9 (~600 kbps at 30 fps) or 20 ms Opus frames, whose data
 * (@size bytes, at least BENCH_STAMP_LEN) starts with our stamp for @room and
 * @sender. *stamp_off: where the send time goes (the sequence follows 16
 * bytes later). */
GBytes *confab_bench_media_packet (
    guint room, guint sender, BenchKind kind, gsize size, const char *user_id, gsize *stamp_off);

/* Outcome of one received PacketWrapper (relay's own packets: IGNORED). */
typedef enum
{
  BENCH_RX_IGNORED,
  BENCH_RX_MEDIA,   /* ours: *kind, *sent_ns filled */
  BENCH_RX_FOREIGN, /* another room's, or our own echo: a fan-out bug */
} BenchRx;

BenchRx confab_bench_classify (
    const guint8 *buf, gsize len, guint room, guint sender, BenchKind *kind, gint64 *sent_ns);

/* The pacing schedule shared by the generators: a binary min-heap of every
 * sender's next send (connection, kind), ordered by due time. */
typedef struct
{
  gint64 due;
  guint32 conn;
  guint32 kind;
} BenchEvent;

typedef struct
{
  BenchEvent *heap;
  guint len;
} BenchSchedule;

void confab_bench_schedule_push (BenchSchedule *schedule, BenchEvent ev);
/* Restores heap order after the earliest event's due time moved on. */
void confab_bench_schedule_sift_down (BenchSchedule *schedule, guint i);

/* What both fan-out generators (WebSocket/NATS and WebTransport) count over a
 * measurement window, and its common part of their one-line JSON result:
 * from "window_s" to "other_cpu_pct". */
typedef struct
{
  double window_s;
  guint64 sent_video, sent_audio;
  guint64 delivered;
  guint64 skipped, foreign;
  guint per_room, n_conns;
  double video_rate, audio_rate;
  double server_cpu_s, gen_cpu_s, machine_cpu_s;
} ConfabBenchCounts;

void confab_bench_append_counts (GString *s, const ConfabBenchCounts *c);

G_END_DECLS
