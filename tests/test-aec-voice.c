/* test-aec-voice.c: synthetic talkers and a band meter (see the header). */
#include "test-aec-voice.h"

#include <math.h>
#include <string.h>

#define RATE 48000

static void
voice_init (TestVoice *v,
            double f0,
            double level,
            const double *formants,
            int n_formants,
            double syllable_s,
            double gap_s,
            gboolean bright)
{
  memset (v, 0, sizeof *v);
  v->f0 = f0;
  v->level = level;
  v->syllable_s = syllable_s;
  v->gap_s = gap_s;
  v->bright = bright;
  v->n_formants = n_formants;
  for (int i = 0; i < n_formants; i++)
    {
      double r = exp (-G_PI * 150.0 / RATE); /* 150 Hz bandwidth */

      v->a1[i] = 2 * r * cos (2 * G_PI * formants[i] / RATE);
      v->a2[i] = -r * r;
    }
}

void
test_voice_init_low (TestVoice *v, double level)
{
  static const double formants[] = { 500, 900 };

  voice_init (v, 110, level, formants, 2, 0.22, 0.09, FALSE);
}

void
test_voice_init_high (TestVoice *v, double level)
{
  static const double formants[] = { 2300, 3000 };

  voice_init (v, 220, level, formants, 2, 0.2, 0.17, TRUE);
}

void
test_voice_fill (TestVoice *v, gint16 *pcm, gsize n)
{
  double period = v->syllable_s + v->gap_s;

  for (gsize i = 0; i < n; i++, v->n++)
    {
      double t = (double) v->n / RATE, pos = fmod (t, period);
      double pitch = v->f0 * (1 + 0.08 * sin (2 * G_PI * 1.3 * t));
      double in = 0, out = 0, env;

      v->phase += pitch / RATE;
      if (v->phase >= 1)
        {
          v->phase -= 1;
          in = 1;
        }
      for (int k = 0; k < v->n_formants; k++)
        {
          double y = in + v->a1[k] * v->y[k][0] + v->a2[k] * v->y[k][1];

          v->y[k][1] = v->y[k][0];
          v->y[k][0] = y;
          out += y;
        }
      if (v->bright)
        {
          double d1 = out - v->pre1, d2;

          v->pre1 = out;
          d2 = d1 - v->pre2;
          v->pre2 = d1;
          out = d2 * 4;
        }
      env = pos < v->syllable_s ? sin (G_PI * pos / v->syllable_s) : 0;
      pcm[i] = (gint16) CLAMP (lrint (v->level * env * out * 600), G_MININT16, G_MAXINT16);
    }
}

typedef struct
{
  double b0, b1, b2, a1, a2, x1, x2, y1, y2;
} Biquad;

static void
biquad_init (Biquad *q, const char *kind, double freq, double qf)
{
  double w = 2 * G_PI * freq / RATE, alpha = sin (w) / (2 * qf), c = cos (w), a0 = 1 + alpha;

  memset (q, 0, sizeof *q);
  if (kind[0] == 'h')
    {
      q->b0 = (1 + c) / 2 / a0;
      q->b1 = -(1 + c) / a0;
      q->b2 = (1 + c) / 2 / a0;
    }
  else
    {
      q->b0 = (1 - c) / 2 / a0;
      q->b1 = (1 - c) / a0;
      q->b2 = (1 - c) / 2 / a0;
    }
  q->a1 = -2 * c / a0;
  q->a2 = (1 - alpha) / a0;
}

static double
biquad_run (Biquad *q, double x)
{
  double y = q->b0 * x + q->b1 * q->x1 + q->b2 * q->x2 - q->a1 * q->y1 - q->a2 * q->y2;

  q->x2 = q->x1;
  q->x1 = x;
  q->y2 = q->y1;
  q->y1 = y;
  return y;
}

double
test_band_power (const gint16 *pcm, gsize n, double low, double high)
{
  Biquad hp[2], lp[2];
  double sum = 0;

  /* Butterworth Q values for a 4th-order high-pass and low-pass. */
  biquad_init (&hp[0], "high", low, 0.5412);
  biquad_init (&hp[1], "high", low, 1.3066);
  biquad_init (&lp[0], "low", high, 0.5412);
  biquad_init (&lp[1], "low", high, 1.3066);
  for (gsize i = 0; i < n; i++)
    {
      double x = pcm[i] / 32768.0;

      x = biquad_run (&lp[1], biquad_run (&lp[0], biquad_run (&hp[1], biquad_run (&hp[0], x))));
      sum += x * x;
    }
  return sum / MAX (n, 1);
}
