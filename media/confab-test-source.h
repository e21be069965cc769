/* confab-test-source.h: generated media for tests and `--video test` /
 * `--audio test`: moving colour bars, a scrolling textured band and a frame counter, and a sine
 * tone. */
#pragma once

#include "confab-video-frame.h"

G_BEGIN_DECLS

typedef struct _ConfabTestPattern ConfabTestPattern;

ConfabTestPattern *confab_test_pattern_new (int width, int height);
void confab_test_pattern_free (ConfabTestPattern *pattern);
/* The next picture: bars moved 4 px further, the counter block showing
 * @frame_number in binary. Reuses the previous frame's memory when nobody else
 * holds it. Returns a new reference. */
ConfabVideoFrame *
confab_test_pattern_next (ConfabTestPattern *pattern, guint64 frame_number, gint64 pts_us);

typedef struct _ConfabToneSource ConfabToneSource;

/* A continuous sine at @frequency Hz, @sample_rate mono, amplitude @amplitude (0..1). */
ConfabToneSource *confab_tone_source_new (double frequency, int sample_rate, double amplitude);
void confab_tone_source_free (ConfabToneSource *tone);
/* Writes the next @n_samples samples, phase-continuous with the previous call. */
void confab_tone_source_fill (ConfabToneSource *tone, gint16 *samples, gsize n_samples);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabTestPattern, confab_test_pattern_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabToneSource, confab_tone_source_free)

G_END_DECLS
