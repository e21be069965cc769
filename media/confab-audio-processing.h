/* confab-audio-processing.h: echo cancellation, noise suppression, gain
 * control and voice activity for the microphone (webrtc-audio-processing
 * 0.3), on 10 ms frames of 48 kHz mono S16, with what the speaker plays as
 * the echo reference. A C API: no C++ leaks out of this header. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_AUDIO_PROCESSING_RATE          48000
#define CONFAB_AUDIO_PROCESSING_FRAME_SAMPLES 480 /* 10 ms */

#define CONFAB_AUDIO_PROCESSING_ERROR (confab_audio_processing_error_quark ())
GQuark confab_audio_processing_error_quark (void);

typedef enum
{
  CONFAB_AUDIO_PROCESSING_ERROR_INIT, /* the library refused a setting */
} ConfabAudioProcessingError;

/* Which processing changes the microphone's sound. Voice activity runs in
 * every case (it only listens). */
typedef enum
{
  CONFAB_AUDIO_PROCESSING_NONE = 0,
  CONFAB_AUDIO_PROCESSING_ECHO_CANCEL = 1 << 0, /* full AEC, extended filter, delay-agnostic */
  CONFAB_AUDIO_PROCESSING_NOISE_SUPPRESSION = 1 << 1, /* and a high-pass filter */
  CONFAB_AUDIO_PROCESSING_GAIN_CONTROL = 1 << 2,      /* adaptive digital AGC with limiter */
  CONFAB_AUDIO_PROCESSING_ALL = 0x7,
} ConfabAudioProcessingFlags;

typedef struct
{
  guint64 capture_frames; /* 10 ms frames through process_capture */
  guint64 render_frames;  /* 10 ms reference frames analysed */
  guint64 render_dropped; /* reference frames lost: the capture side fell behind */
  guint64 voice_frames;   /* capture frames the VAD called voice */
  int delay_ms;           /* last delay handed to the echo canceller */
  double process_us_avg;  /* capture-side work per 10 ms frame (reference included) */
  double process_us_max;
  int echo_return_loss_enhancement_db; /* AEC's ERLE, average; -100 when unknown */
  int echo_delay_median_ms;            /* the AEC's own estimate of the echo's delay; -1 unknown */
  int echo_delay_std_ms;
} ConfabAudioProcessingStats;

typedef struct _ConfabAudioProcessing ConfabAudioProcessing;

/* Refcounted; the capture and the playback stream share one. */
ConfabAudioProcessing *confab_audio_processing_new (ConfabAudioProcessingFlags flags,
                                                    GError **error);
ConfabAudioProcessing *confab_audio_processing_ref (ConfabAudioProcessing *self);
void confab_audio_processing_unref (ConfabAudioProcessing *self);

/* Threads: one "render" thread pushes what the speaker plays, one "capture"
 * thread processes microphone frames; they may be the same or different.
 * The render side never calls into the library and never blocks: frames go
 * through a lock-free single-producer ring to the capture side, which
 * analyses them just before its next frame. So every library call happens
 * on the capture thread and never waits for the other side. */

/* Render thread: @n_samples samples exactly as they go to the speaker, the
 * first one heard at @play_time_us (g_get_monotonic_time() clock). Any
 * length; cut into 10 ms frames inside. */
void confab_audio_processing_push_render (ConfabAudioProcessing *self,
                                          const gint16 *pcm,
                                          gsize n_samples,
                                          gint64 play_time_us);

/* Capture thread: processes one 10 ms frame in place whose first sample
 * reached the microphone at @capture_time_us. Returns the voice activity
 * with hangover (the "speaking" state) after this frame. */
gboolean confab_audio_processing_process_capture (ConfabAudioProcessing *self,
                                                  gint16 *frame,
                                                  gint64 capture_time_us);

/* Any thread. Off leaves the sound untouched (only voice activity runs);
 * the capture side applies it before its next frame. */
void confab_audio_processing_set_enabled (ConfabAudioProcessing *self, gboolean enabled);
gboolean confab_audio_processing_get_enabled (ConfabAudioProcessing *self);
/* Any thread: the latest speaking state. */
gboolean confab_audio_processing_get_speaking (ConfabAudioProcessing *self);
/* Any thread; a snapshot. */
void confab_audio_processing_get_stats (ConfabAudioProcessing *self,
                                        ConfabAudioProcessingStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabAudioProcessing, confab_audio_processing_unref)

G_END_DECLS
