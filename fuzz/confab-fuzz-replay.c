/* confab-fuzz-replay.c: runs a fuzz target without libFuzzer, so the normal
 * gcc build can fuzz briefly in `meson test --suite fuzz`: every corpus file,
 * then random and mutated inputs until a time budget is spent. The long,
 * coverage-guided run uses the libFuzzer build (docs/relay.md). */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 8192

/* The input being run, written out if the target crashes. */
static const guint8 *current_data;
static gsize current_len;

static void
on_crash (int sig)
{
  int fd = open ("confab-fuzz-crash.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);

  if (fd >= 0)
    {
      if (write (fd, current_data, current_len) < 0)
        {
          /* Nothing more to do in a signal handler. */
        }
      close (fd);
    }
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
run_one (const guint8 *data, gsize len)
{
  /* An exact-size copy, as libFuzzer gives: reading past the end is then an
   * invalid read for valgrind and ASan, not a silent look at spare bytes. */
  g_autofree guint8 *copy = g_memdup2 (data, len);

  current_data = copy;
  current_len = len;
  LLVMFuzzerTestOneInput (copy != NULL ? copy : (const guint8 *) "", len);
}

static GBytes *
mutate (GRand *rand, GPtrArray *seeds)
{
  GBytes *seed =
      seeds->len > 0 ? seeds->pdata[g_rand_int_range (rand, 0, (gint32) seeds->len)] : NULL;
  gsize len = seed != NULL ? g_bytes_get_size (seed) : 0;
  guint8 *buf = g_malloc (FUZZ_MAX_INPUT);
  guint rounds = (guint) g_rand_int_range (rand, 1, 8);

  if (seed == NULL || g_rand_int_range (rand, 0, 8) == 0)
    {
      /* Pure noise. */
      len = (gsize) g_rand_int_range (rand, 0, 512);
      for (gsize i = 0; i < len; i++)
        buf[i] = (guint8) g_rand_int (rand);
      return g_bytes_new_take (buf, len);
    }
  len = MIN (len, (gsize) FUZZ_MAX_INPUT);
  memcpy (buf, g_bytes_get_data (seed, NULL), len);
  for (guint r = 0; r < rounds; r++)
    {
      switch (g_rand_int_range (rand, 0, 6))
        {
          case 0: /* flip a bit */
            if (len > 0)
              buf[g_rand_int_range (rand, 0, (gint32) len)] ^=
                  (guint8) (1u << g_rand_int_range (rand, 0, 8));
            break;
          case 1: /* set a byte to an interesting value */
            if (len > 0)
              {
                static const guint8 interesting[] = { 0x00, 0x01, 0x7f, 0x80, 0xff,
                                                      0x08, 0x0a, 0x12, 0x1a, 0x20 };
                buf[g_rand_int_range (rand, 0, (gint32) len)] =
                    interesting[g_rand_int_range (rand, 0, G_N_ELEMENTS (interesting))];
              }
            break;
          case 2: /* truncate */
            if (len > 0)
              len = (gsize) g_rand_int_range (rand, 0, (gint32) len);
            break;
          case 3: /* insert random bytes */
            {
              gsize at = len > 0 ? (gsize) g_rand_int_range (rand, 0, (gint32) len + 1) : 0;
              gsize want = (gsize) g_rand_int_range (rand, 1, 16);
              gsize n = MIN (want, FUZZ_MAX_INPUT - len);
              memmove (buf + at + n, buf + at, len - at);
              for (gsize i = 0; i < n; i++)
                buf[at + i] = (guint8) g_rand_int (rand);
              len += n;
            }
            break;
          case 4: /* duplicate a chunk */
            if (len > 0)
              {
                /* Draw first: MIN() evaluates its arguments twice. */
                gsize from = (gsize) g_rand_int_range (rand, 0, (gint32) len);
                gsize want = (gsize) g_rand_int_range (rand, 1, 64);
                gsize n = MIN (MIN (want, len - from), FUZZ_MAX_INPUT - len);
                memmove (buf + from + n, buf + from, len - from);
                len += n;
              }
            break;
          default: /* splice with another seed */
            {
              GBytes *other = seeds->pdata[g_rand_int_range (rand, 0, (gint32) seeds->len)];
              gsize olen = g_bytes_get_size (other);
              gsize keep = len > 0 ? (gsize) g_rand_int_range (rand, 0, (gint32) len + 1) : 0;
              gsize from = olen > 0 ? (gsize) g_rand_int_range (rand, 0, (gint32) olen) : 0;
              gsize n = MIN (olen - from, FUZZ_MAX_INPUT - keep);
              memcpy (buf + keep, (const guint8 *) g_bytes_get_data (other, NULL) + from, n);
              len = keep + n;
            }
            break;
        }
    }
  return g_bytes_new_take (buf, len);
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) seeds = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *env_seconds = g_getenv ("CONFAB_FUZZ_SECONDS");
  const char *env_seed = g_getenv ("CONFAB_FUZZ_SEED");
  double seconds = env_seconds != NULL ? g_ascii_strtod (env_seconds, NULL) : 3.0;
  guint32 rand_seed =
      env_seed != NULL ? (guint32) g_ascii_strtoull (env_seed, NULL, 10) : g_random_int ();
  GRand *rand = g_rand_new_with_seed (rand_seed);
  gint64 start, deadline;
  guint64 execs = 0;

  signal (SIGABRT, on_crash);
  signal (SIGSEGV, on_crash);
  signal (SIGBUS, on_crash);
  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GDir) dir = g_dir_open (argv[i], 0, NULL);
      const char *name;

      if (dir == NULL)
        {
          g_printerr ("cannot open corpus %s\n", argv[i]);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[i], name, NULL);
          char *contents;
          gsize len;
          if (g_file_get_contents (path, &contents, &len, NULL))
            g_ptr_array_add (seeds, g_bytes_new_take (contents, len));
        }
    }

  /* Every seed as it is... */
  for (guint i = 0; i < seeds->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (seeds->pdata[i], &len);
      run_one (data, len);
      execs++;
    }

  /* ...then random and mutated inputs for the time budget. */
  start = g_get_monotonic_time ();
  deadline = start + (gint64) (seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < deadline)
    for (int k = 0; k < 256; k++)
      {
        g_autoptr (GBytes) input = mutate (rand, seeds);
        gsize len;
        const guint8 *data = g_bytes_get_data (input, &len);
        run_one (data != NULL ? data : (const guint8 *) "", len);
        execs++;
      }

  g_print ("%u seeds, %" G_GUINT64_FORMAT
           " executions in %.1f s (seed %u, rerun with CONFAB_FUZZ_SEED)\n",
           seeds->len, execs, (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC,
           rand_seed);
  g_rand_free (rand);
  return 0;
}
