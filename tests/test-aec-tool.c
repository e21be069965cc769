/* test-aec-tool.c: the synthetic talkers and the band meter of
 * test-aec-voice.c for test scripts (tests/test-app-aec.py), which cannot
 * link them:
 *
 *   test-aec-tool talker low|high SECONDS LEVEL OUT.wav
 *       writes a talker as a 48 kHz mono S16 WAV file;
 *   test-aec-tool bands IN.s16 T0 T1 [T0 T1 ...]
 *       reads raw 48 kHz mono S16LE samples and prints, as one JSON object,
 *       the low and high talkers' band power (dB re full scale) and the
 *       seconds of audio found in each window [T0, T1) (seconds from the
 *       file's first sample). */
#define G_LOG_DOMAIN "test-aec-tool"

#include "test-aec-voice.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE 48000

static void
put_le (guint8 *p, guint32 value, int bytes)
{
  for (int i = 0; i < bytes; i++)
    p[i] = (value >> (8 * i)) & 0xff;
}

static int
write_talker (const char *kind, double seconds, double level, const char *path)
{
  gsize n = (gsize) (seconds * RATE);
  g_autofree gint16 *pcm = g_new (gint16, n);
  g_autofree guint8 *file = g_malloc (44 + n * 2);
  g_autoptr (GError) error = NULL;
  TestVoice voice;

  if (strcmp (kind, "low") == 0)
    test_voice_init_low (&voice, level);
  else if (strcmp (kind, "high") == 0)
    test_voice_init_high (&voice, level);
  else
    {
      g_printerr ("unknown talker %s\n", kind);
      return 2;
    }
  test_voice_fill (&voice, pcm, n);
  /* RIFF/WAVE, one "fmt " chunk (PCM, mono, 16 bit), one "data" chunk. */
  memcpy (file, "RIFF", 4);
  put_le (file + 4, 36 + n * 2, 4);
  memcpy (file + 8, "WAVEfmt ", 8);
  put_le (file + 16, 16, 4);
  put_le (file + 20, 1, 2);
  put_le (file + 22, 1, 2);
  put_le (file + 24, RATE, 4);
  put_le (file + 28, RATE * 2, 4);
  put_le (file + 32, 2, 2);
  put_le (file + 34, 16, 2);
  memcpy (file + 36, "data", 4);
  put_le (file + 40, n * 2, 4);
  for (gsize i = 0; i < n; i++)
    put_le (file + 44 + 2 * i, (guint16) pcm[i], 2);
  if (!g_file_set_contents (path, (const char *) file, 44 + n * 2, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  return 0;
}

static double
db (double power)
{
  return 10 * log10 (MAX (power, 1e-15));
}

static int
print_bands (const char *path, int n_args, char **args)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  g_autoptr (GString) low = g_string_new ("[");
  g_autoptr (GString) high = g_string_new ("[");
  g_autoptr (GString) seconds = g_string_new ("[");
  gsize size, n;
  g_autofree gint16 *pcm = NULL;

  if (n_args % 2 != 0)
    {
      g_printerr ("windows come in pairs: T0 T1\n");
      return 2;
    }
  if (!g_file_get_contents (path, &data, &size, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  n = size / 2;
  pcm = g_new (gint16, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    pcm[i] = (gint16) ((guint8) data[2 * i] | ((guint8) data[2 * i + 1] << 8));
  for (int w = 0; w < n_args; w += 2)
    {
      double t0 = g_ascii_strtod (args[w], NULL), t1 = g_ascii_strtod (args[w + 1], NULL);
      gsize i0 = (gsize) CLAMP (t0 * RATE, 0, (double) n);
      gsize i1 = (gsize) CLAMP (t1 * RATE, (double) i0, (double) n);
      const char *sep = w > 0 ? ", " : "";

      g_string_append_printf (
          low, "%s%.2f", sep,
          db (test_band_power (pcm + i0, i1 - i0, TEST_LOW_BAND_LO, TEST_LOW_BAND_HI)));
      g_string_append_printf (
          high, "%s%.2f", sep,
          db (test_band_power (pcm + i0, i1 - i0, TEST_HIGH_BAND_LO, TEST_HIGH_BAND_HI)));
      g_string_append_printf (seconds, "%s%.3f", sep, (double) (i1 - i0) / RATE);
    }
  printf ("{\"low\": %s], \"high\": %s], \"seconds\": %s]}\n", low->str, high->str, seconds->str);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 6 && strcmp (argv[1], "talker") == 0)
    return write_talker (argv[2], g_ascii_strtod (argv[3], NULL), g_ascii_strtod (argv[4], NULL),
                         argv[5]);
  if (argc >= 3 && strcmp (argv[1], "bands") == 0)
    return print_bands (argv[2], argc - 3, argv + 3);
  g_printerr ("usage: %s talker low|high SECONDS LEVEL OUT.wav\n"
              "       %s bands IN.s16 T0 T1 [T0 T1 ...]\n",
              argv[0], argv[0]);
  return 2;
}
