/* confab-pipewire-audio.h: the microphone as 20 ms chunks of 48 kHz mono
 * samples for the Opus encoder (echo-cancelled, denoised and levelled by
 * default), and playback of a mix of 20 ms frames (one per peer) to a
 * speaker, both through PipeWire as a call (media.role = Communication). */
#pragma once

#include "confab-audio-encoder.h"
#include "confab-audio-processing.h"
#include "confab-pipewire.h"

G_BEGIN_DECLS

/* ---- capture ---- */

#define CONFAB_TYPE_AUDIO_CAPTURE (confab_audio_capture_get_type ())
G_DECLARE_FINAL_TYPE (ConfabAudioCapture, confab_audio_capture, CONFAB, AUDIO_CAPTURE, GObject)

/* Records from the Audio/Source whose node.name (or object.serial) is
 * @target, or the default microphone when NULL. With @monitor_sink, @target
 * names an Audio/Sink and what it plays is recorded (its monitor).
 *
 * A microphone (not a monitor) runs ConfabAudioProcessing on PipeWire's
 * thread, 10 ms at a time, before the samples are handed over: echo
 * cancellation (give the speaker's playback the echo reference with
 * confab_audio_playback_set_echo_reference()), noise suppression, gain
 * control, all on by default and switched with
 * confab_audio_processing_set_enabled(), and voice activity always.
 *
 * Signals, on the caller's thread-default main context:
 * - "chunk" (gpointer samples): CONFAB_AUDIO_FRAME_SAMPLES (20 ms) S16
 *   samples, valid during the emission only.
 * - "speaking-changed" (gboolean speaking): voice activity, with hangover
 *   (on after ~50 ms of voice, off after 500 ms without); microphones only.
 * - "error" (GError *): as ConfabCameraSource's. */
ConfabAudioCapture *confab_audio_capture_new (ConfabPipewire *pipewire,
                                              const char *target,
                                              gboolean monitor_sink,
                                              GError **error);
/* The microphone's processing, NULL for a monitor. (transfer none) */
ConfabAudioProcessing *confab_audio_capture_get_processing (ConfabAudioCapture *self);
/* The state "speaking-changed" last announced. */
gboolean confab_audio_capture_get_speaking (ConfabAudioCapture *self);
guint64 confab_audio_capture_get_chunks (ConfabAudioCapture *self);
/* Samples PipeWire delivered while the main context was ~340 ms behind: dropped. */
guint64 confab_audio_capture_get_overrun_samples (ConfabAudioCapture *self);

/* ---- playback ---- */

/* Writes the next 20 ms (CONFAB_AUDIO_FRAME_SAMPLES samples) to @pcm. */
typedef void (*ConfabAudioFillFunc) (gint16 *pcm, gpointer user_data);

#define CONFAB_TYPE_AUDIO_PLAYBACK (confab_audio_playback_get_type ())
G_DECLARE_FINAL_TYPE (ConfabAudioPlayback, confab_audio_playback, CONFAB, AUDIO_PLAYBACK, GObject)

/* Plays to the Audio/Sink named @target, or the default one. The device's
 * clock drives it: whenever less than 40 ms is queued, @fill is called on the
 * caller's thread-default main context for the next 20 ms (so a jitter buffer
 * that is not thread-safe can be pulled there). "error" as for capture. */
ConfabAudioPlayback *confab_audio_playback_new (ConfabPipewire *pipewire,
                                                const char *target,
                                                ConfabAudioFillFunc fill,
                                                gpointer user_data,
                                                GError **error);
/* Every sample written to the speaker from now on, silence included, also
 * goes to @processing as its echo reference, with the time it will be
 * heard (from PipeWire's reported latency). NULL stops it. Any thread. */
void confab_audio_playback_set_echo_reference (ConfabAudioPlayback *self,
                                               ConfabAudioProcessing *processing);
guint64 confab_audio_playback_get_frames (ConfabAudioPlayback *self);
/* Device periods that found nothing queued and played silence (after the start). */
guint64 confab_audio_playback_get_underruns (ConfabAudioPlayback *self);

/* ---- mixing ---- */

/* Adds one 20 ms frame into a 32-bit accumulator (no clipping yet). */
void confab_audio_mix_add (gint32 *acc, const gint16 *pcm, gsize n_samples);
/* The accumulated mix as S16, clipped. */
void confab_audio_mix_finish (const gint32 *acc, gint16 *pcm, gsize n_samples);

G_END_DECLS
