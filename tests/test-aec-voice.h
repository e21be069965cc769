/* test-aec-voice.h: synthetic talkers for the echo tests, and a band
 * meter to tell two of them apart in one signal. A talker is a glottal
 * pulse train (pitch gliding around f0) through formant resonators, in
 * syllables: harmonic, intermittent sound that voice activity detectors,
 * noise suppressors and Opus all treat as speech. A pure tone is none of
 * those: WebRTC's noise suppressor fades it as noise and Opus's DTX stops
 * sending a steady one after a few seconds. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  double f0, phase, level, syllable_s, gap_s;
  int n_formants;
  double y[4][2], a1[4], a2[4];
  double pre1, pre2; /* pre-emphasis state */
  gboolean bright;   /* two first differences: little energy below 1 kHz */
  guint64 n;
} TestVoice;

/* A "low" talker (f0 110 Hz, formants 500/900 Hz: nearly all energy below
 * 1.2 kHz) and a "high" one (f0 220 Hz, formants 2300/3000 Hz, emphasised:
 * nearly all above 1.5 kHz), each with its own syllable rhythm. */
void test_voice_init_low (TestVoice *v, double level);
void test_voice_init_high (TestVoice *v, double level);
void test_voice_fill (TestVoice *v, gint16 *pcm, gsize n);

/* Mean power (re full scale) of @pcm within [@low, @high] Hz, through a
 * 4th-order Butterworth-like band-pass (two biquads). */
double test_band_power (const gint16 *pcm, gsize n, double low, double high);

#define TEST_LOW_BAND_LO  150.0
#define TEST_LOW_BAND_HI  1000.0
#define TEST_HIGH_BAND_LO 1800.0
#define TEST_HIGH_BAND_HI 3600.0

G_END_DECLS
