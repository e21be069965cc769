/* confab-test-audio.h: measuring test tones in captured or decoded PCM, for
 * the tests that check a tone went through a call at the right pitch. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Frequency of a steady tone in @pcm (mono, @rate Hz) from its zero crossings
 * (rising edges); 0 when there are fewer than two. */
double confab_test_tone_frequency (const gint16 *pcm, gsize n, int rate);

/* Power of @freq in @pcm (Goertzel), normalised so a full-scale sine is 1. */
double confab_test_tone_power (const gint16 *pcm, gsize n, double freq, int rate);

G_END_DECLS
