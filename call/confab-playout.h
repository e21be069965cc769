/* confab-playout.h: what a call sounds like. Every 20 ms the speaker's clock
 * asks for, it pulls one frame from each present peer (through the peer, so
 * its audio clock also paces its pictures: lip sync), mixes them with
 * saturation and plays the mix; the mix is also the echo reference of our
 * microphone's processing. Shared by confab-cli (--play) and the app. */
#pragma once

#include "confab-call.h"
#include "confab-pipewire-audio.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_PLAYOUT (confab_playout_get_type ())
G_DECLARE_FINAL_TYPE (ConfabPlayout, confab_playout, CONFAB, PLAYOUT, GObject)

/* Mixes one 20 ms frame (CONFAB_AUDIO_FRAME_SAMPLES) of every peer of @call
 * that has an audio jitter buffer into @pcm; silence when @call is NULL.
 * Allocates nothing. For a clock that is not a speaker (confab-cli without
 * --play) as well as for the playout's own. */
void confab_playout_mix (ConfabCall *call, gint16 *pcm);

/* Plays @call (may be NULL until confab_playout_set_call()) to the Audio/Sink
 * named @target (node.name or object.serial), or the default speaker when
 * NULL or "". Nothing plays before confab_playout_start().
 *
 * Signal "error" (GError *): the speaker went away or PipeWire failed; the
 * playout has stopped itself (start it again to retry). Until then, as after
 * a failed start, it pulls everyone's audio in real time and drops it, so
 * the jitter buffers hold no backlog when a speaker plays again.
 * confab_playout_stop() ends that too. */
ConfabPlayout *confab_playout_new (ConfabCall *call, const char *target);
void confab_playout_set_call (ConfabPlayout *self, ConfabCall *call);
/* The microphone processing that gets what we play as its echo reference,
 * now or from the next start; NULL for none. */
void confab_playout_set_echo_processing (ConfabPlayout *self, ConfabAudioProcessing *processing);
/* Opens the speaker on @pipewire (as media.role = Communication). FALSE with
 * CONFAB_PIPEWIRE_ERROR when it cannot. Already playing: TRUE. */
gboolean confab_playout_start (ConfabPlayout *self, ConfabPipewire *pipewire, GError **error);
/* Plays on another speaker (NULL or "": the default). While playing, the
 * stream is reopened on the new device at once; when that fails (the device
 * is gone, PipeWire went away) FALSE with the error, and the playout is
 * stopped (start it again to retry). Not playing: used by the next start. */
gboolean confab_playout_set_target (ConfabPlayout *self, const char *target, GError **error);
/* Closes the speaker (and ends draining); safe when not playing. */
void confab_playout_stop (ConfabPlayout *self);
gboolean confab_playout_is_playing (ConfabPlayout *self);
/* The speaker's stream while playing, else NULL (for its counters). (transfer none) */
ConfabAudioPlayback *confab_playout_get_playback (ConfabPlayout *self);

G_END_DECLS
