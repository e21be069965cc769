/* confab-lip-sync.c: hold a picture that is early relative to its peer's
 * audio (at most 150 ms), drop one that is late when a newer one can take
 * its place, and leave video alone when there is no audio to follow. */
#define G_LOG_DOMAIN "confab-lip-sync"

#include "confab-lip-sync.h"

void
confab_lip_sync_clock_init (ConfabLipSyncClock *clock)
{
  clock->audio_pts_us = -1;
  clock->audio_at_us = 0;
}

void
confab_lip_sync_clock_played (ConfabLipSyncClock *clock, gint64 audio_pts_us, gint64 now_us)
{
  clock->audio_pts_us = audio_pts_us;
  clock->audio_at_us = now_us;
}

gint64
confab_lip_sync_clock_now (const ConfabLipSyncClock *clock, gint64 now_us)
{
  if (clock->audio_pts_us < 0 || now_us - clock->audio_at_us > CONFAB_LIP_SYNC_AUDIO_STALE_US)
    return -1;
  /* Between two 20 ms pulls the audio runs on in real time. */
  return clock->audio_pts_us + (now_us - clock->audio_at_us);
}

ConfabLipSyncAction
confab_lip_sync_decide (const ConfabLipSyncClock *clock,
                        gint64 video_pts_us,
                        gint64 held_us,
                        gboolean newer_waiting,
                        gint64 now_us)
{
  gint64 audio = confab_lip_sync_clock_now (clock, now_us);
  gint64 ahead;

  if (audio < 0 || video_pts_us <= 0)
    return CONFAB_LIP_SYNC_SHOW;
  ahead = video_pts_us - audio;
  if (ahead > CONFAB_LIP_SYNC_EARLY_US && held_us < CONFAB_LIP_SYNC_MAX_HOLD_US)
    return CONFAB_LIP_SYNC_HOLD;
  /* Late: better the newer picture than a stale one; the newest is shown
   * however late, since a stale picture beats none. */
  if (ahead < -CONFAB_LIP_SYNC_LATE_US && newer_waiting)
    return CONFAB_LIP_SYNC_DROP;
  return CONFAB_LIP_SYNC_SHOW;
}

gint64
confab_lip_sync_due (const ConfabLipSyncClock *clock,
                     gint64 video_pts_us,
                     gint64 held_us,
                     gint64 now_us)
{
  gint64 audio = confab_lip_sync_clock_now (clock, now_us);
  gint64 give_up = now_us + (CONFAB_LIP_SYNC_MAX_HOLD_US - held_us);
  gint64 in_sync;

  if (audio < 0)
    return now_us;
  /* When the audio reaches the picture (less the tolerance), or the hold
   * bound, whichever comes first; and before the audio clock goes stale. */
  in_sync = now_us + (video_pts_us - audio - CONFAB_LIP_SYNC_EARLY_US);
  return MAX (now_us, MIN (MIN (in_sync, give_up),
                           clock->audio_at_us + CONFAB_LIP_SYNC_AUDIO_STALE_US + 1));
}
