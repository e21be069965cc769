/* confab-codec-cpu-private.h: how a codec object counts its CPU time
 * (ConfabCodecCpu, embedded in each encoder and decoder). */
#pragma once

#include "confab-codec-cpu.h"

#include <sys/types.h>
#include <time.h>

G_BEGIN_DECLS

typedef struct
{
  ConfabCodecCpuKind kind;
  guint64 ns;       /* this object's total */
  GArray *workers;  /* ConfabCodecWorker: threads the codec library started */
  GArray *snapshot; /* pid_t: the process's threads before a call that may start workers */
} ConfabCodecCpu;

void confab_codec_cpu_init (ConfabCodecCpu *cpu, ConfabCodecCpuKind kind);
/* Counts what the workers did since the last call, then forgets them: call it
 * before the library stops its threads. */
void confab_codec_cpu_clear (ConfabCodecCpu *cpu);

/* Around a library call that may start worker threads (creating the codec,
 * libvpx's first VP9 encode): threads that appeared in between, named as the
 * calling thread is (new threads inherit its name), are taken as the codec's
 * workers and their CPU is counted from then on. */
void confab_codec_cpu_watch_threads (ConfabCodecCpu *cpu);
void confab_codec_cpu_adopt_threads (ConfabCodecCpu *cpu);

/* The calling thread's CPU clock in ns. One system call (~0.2 µs here). */
static inline gint64
confab_codec_cpu_begin (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Adds the calling thread's CPU since @begin_ns, and the workers' CPU since
 * the last call, to @cpu and to the process totals. */
void confab_codec_cpu_end (ConfabCodecCpu *cpu, gint64 begin_ns);

G_END_DECLS
