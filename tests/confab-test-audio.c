/* confab-test-audio.c: tone frequency and power of test PCM (see the header). */
#include "confab-test-audio.h"

#include <math.h>

double
confab_test_tone_frequency (const gint16 *pcm, gsize n, int rate)
{
  gsize first = 0, last = 0;
  guint rising = 0;

  for (gsize i = 1; i < n; i++)
    if (pcm[i - 1] < 0 && pcm[i] >= 0)
      {
        if (rising == 0)
          first = i;
        last = i;
        rising++;
      }
  if (rising < 2)
    return 0;
  return (double) (rising - 1) * rate / (double) (last - first);
}

double
confab_test_tone_power (const gint16 *pcm, gsize n, double freq, int rate)
{
  double k = 2 * cos (2 * G_PI * freq / rate), s1 = 0, s2 = 0;

  if (n == 0)
    return 0;
  for (gsize i = 0; i < n; i++)
    {
      double s0 = pcm[i] / 32768.0 + k * s1 - s2;

      s2 = s1;
      s1 = s0;
    }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / ((double) n * n / 4);
}
