/* confab-codec-cpu.c: CPU time inside codec calls, per codec object and per
 * process. The calling thread's share comes from CLOCK_THREAD_CPUTIME_ID
 * around each call. Codec libraries that run their own threads (libvpx's VP9
 * row-mt workers, x264's sliced threads) block those threads between calls,
 * so all of a worker's CPU time is codec work: the workers are found once,
 * as the threads that appear while the library starts them, and read through
 * their per-thread CPU clocks at the end of each call. */
#define G_LOG_DOMAIN "confab-codec-cpu"

#include "confab-codec-cpu-private.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  pid_t tid;
  clockid_t clock;
  gint64 last_ns;
} ConfabCodecWorker;

/* Updated with relaxed atomics from whichever thread runs a codec. */
static guint64 process_ns[CONFAB_CODEC_CPU_N_KINDS];

guint64
confab_codec_cpu_get_process_ns (ConfabCodecCpuKind kind)
{
  g_return_val_if_fail (kind < CONFAB_CODEC_CPU_N_KINDS, 0);
  return __atomic_load_n (&process_ns[kind], __ATOMIC_RELAXED);
}

const char *
confab_codec_cpu_kind_to_string (ConfabCodecCpuKind kind)
{
  static const char *const names[] = { "video_encode", "video_decode", "audio_encode",
                                       "audio_decode" };

  G_STATIC_ASSERT (G_N_ELEMENTS (names) == CONFAB_CODEC_CPU_N_KINDS);
  g_return_val_if_fail (kind < CONFAB_CODEC_CPU_N_KINDS, NULL);
  return names[kind];
}

guint64
confab_codec_cpu_get_process_total_ns (void)
{
  guint64 sum = 0;

  for (int k = 0; k < CONFAB_CODEC_CPU_N_KINDS; k++)
    sum += confab_codec_cpu_get_process_ns (k);
  return sum;
}

static void
add (ConfabCodecCpu *cpu, gint64 ns)
{
  if (ns <= 0)
    return;
  cpu->ns += (guint64) ns;
  __atomic_fetch_add (&process_ns[cpu->kind], (guint64) ns, __ATOMIC_RELAXED);
}

void
confab_codec_cpu_init (ConfabCodecCpu *cpu, ConfabCodecCpuKind kind)
{
  memset (cpu, 0, sizeof *cpu);
  cpu->kind = kind;
}

/* The CPU clock of another thread of this process: the kernel's encoding of
 * a per-thread clock id (what glibc's pthread_getcpuclockid() returns), which
 * clock_gettime() accepts for any thread of the same process. */
static clockid_t
thread_clock (pid_t tid)
{
  return (clockid_t) ((~(unsigned) tid) << 3) | 4 /* per thread */ | 2 /* scheduler time */;
}

static gboolean
read_clock (clockid_t clock, gint64 *ns)
{
  struct timespec ts;

  if (clock_gettime (clock, &ts) != 0)
    return FALSE; /* the thread has gone */
  *ns = (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
  return TRUE;
}

static void
collect_workers (ConfabCodecCpu *cpu)
{
  if (cpu->workers == NULL)
    return;
  for (guint i = 0; i < cpu->workers->len;)
    {
      ConfabCodecWorker *w = &g_array_index (cpu->workers, ConfabCodecWorker, i);
      gint64 now;

      if (!read_clock (w->clock, &now))
        {
          g_array_remove_index_fast (cpu->workers, i);
          continue;
        }
      add (cpu, now - w->last_ns);
      w->last_ns = now;
      i++;
    }
}

void
confab_codec_cpu_clear (ConfabCodecCpu *cpu)
{
  collect_workers (cpu);
  g_clear_pointer (&cpu->workers, g_array_unref);
  g_clear_pointer (&cpu->snapshot, g_array_unref);
}

void
confab_codec_cpu_end (ConfabCodecCpu *cpu, gint64 begin_ns)
{
  add (cpu, confab_codec_cpu_begin () - begin_ns);
  collect_workers (cpu);
}

static GArray *
list_threads (void)
{
  GArray *tids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  DIR *dir = opendir ("/proc/self/task");
  struct dirent *entry;

  if (dir == NULL)
    return tids;
  while ((entry = readdir (dir)) != NULL)
    {
      pid_t tid = (pid_t) atoi (entry->d_name);

      if (tid > 0)
        g_array_append_val (tids, tid);
    }
  closedir (dir);
  return tids;
}

static char *
thread_name (const char *path)
{
  char *name = NULL;

  if (!g_file_get_contents (path, &name, NULL, NULL))
    return NULL;
  return g_strchomp (name);
}

void
confab_codec_cpu_watch_threads (ConfabCodecCpu *cpu)
{
  g_clear_pointer (&cpu->snapshot, g_array_unref);
  cpu->snapshot = list_threads ();
}

void
confab_codec_cpu_adopt_threads (ConfabCodecCpu *cpu)
{
  g_autoptr (GArray) now = NULL;
  g_autofree char *ours = NULL;

  if (cpu->snapshot == NULL)
    return;
  now = list_threads ();
  ours = thread_name ("/proc/thread-self/comm");
  for (guint i = 0; i < now->len; i++)
    {
      pid_t tid = g_array_index (now, pid_t, i);
      g_autofree char *path = NULL;
      g_autofree char *name = NULL;
      ConfabCodecWorker worker = { tid, thread_clock (tid), 0 };
      gboolean known = FALSE;

      for (guint j = 0; j < cpu->snapshot->len && !known; j++)
        known = g_array_index (cpu->snapshot, pid_t, j) == tid;
      if (known)
        continue;
      /* Another part of the process may have started a thread meanwhile;
       * GLib and GStreamer threads name themselves, codec workers keep the
       * name of the thread that made them. */
      path = g_strdup_printf ("/proc/self/task/%d/comm", (int) tid);
      name = thread_name (path);
      if (name == NULL || g_strcmp0 (name, ours) != 0)
        continue;
      if (!read_clock (worker.clock, &worker.last_ns))
        continue;
      /* What the worker did before we found it (starting up, the work of the
       * call that started it) is codec work too. */
      add (cpu, worker.last_ns);
      if (cpu->workers == NULL)
        cpu->workers = g_array_new (FALSE, FALSE, sizeof (ConfabCodecWorker));
      g_array_append_val (cpu->workers, worker);
    }
  g_clear_pointer (&cpu->snapshot, g_array_unref);
}
