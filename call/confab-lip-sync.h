/* confab-lip-sync.h: when a peer's decoded picture may go to the renderer,
 * judged against that peer's audio playout clock (the sender's capture time
 * of the audio being played now). Pure: times are injected, so tests drive
 * it without clocks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A picture this much ahead of the audio is held... */
#define CONFAB_LIP_SYNC_EARLY_US (30 * 1000)
/* ...but video never waits longer than this for audio. */
#define CONFAB_LIP_SYNC_MAX_HOLD_US (150 * 1000)
/* A picture this much behind the audio is dropped when a newer one waits. */
#define CONFAB_LIP_SYNC_LATE_US (80 * 1000)
/* An audio clock not advanced for this long is no clock (the peer muted or
 * its audio stalled): video then plays on its own. */
#define CONFAB_LIP_SYNC_AUDIO_STALE_US (200 * 1000)

typedef enum
{
  CONFAB_LIP_SYNC_SHOW, /* hand it to the renderer now */
  CONFAB_LIP_SYNC_HOLD, /* early: wait for the audio */
  CONFAB_LIP_SYNC_DROP, /* late, and a newer picture waits behind it */
} ConfabLipSyncAction;

typedef struct
{
  gint64 audio_pts_us; /* sender capture time of the audio last played; -1: none yet */
  gint64 audio_at_us;  /* our monotonic time when it was played */
} ConfabLipSyncClock;

void confab_lip_sync_clock_init (ConfabLipSyncClock *clock);
/* The mixer played audio captured at @audio_pts_us (sender's wall clock, µs). */
void confab_lip_sync_clock_played (ConfabLipSyncClock *clock, gint64 audio_pts_us, gint64 now_us);
/* The sender capture time being heard at @now_us, or -1 when there is no
 * live audio clock. */
gint64 confab_lip_sync_clock_now (const ConfabLipSyncClock *clock, gint64 now_us);

/* What to do with the oldest waiting picture, captured at @video_pts_us
 * (sender's wall clock, µs) and decoded @held_us ago; @newer_waiting when a
 * later picture is queued behind it. */
ConfabLipSyncAction confab_lip_sync_decide (const ConfabLipSyncClock *clock,
                                            gint64 video_pts_us,
                                            gint64 held_us,
                                            gboolean newer_waiting,
                                            gint64 now_us);
/* When the picture becomes due (HOLD answered now): monotonic µs. */
gint64 confab_lip_sync_due (const ConfabLipSyncClock *clock,
                            gint64 video_pts_us,
                            gint64 held_us,
                            gint64 now_us);

G_END_DECLS
