/* test-lip-sync.c: the lip sync rule (call/confab-lip-sync) with injected
 * clocks: a picture early against its peer's audio is held (never more than
 * 150 ms), a late one is dropped when a newer one waits, and without a live
 * audio clock video plays on its own. */
#define G_LOG_DOMAIN "test-lip-sync"

#include "confab-lip-sync.h"

#define MS(x) ((gint64) (x) *1000)

static void
test_decide (void)
{
  static const struct
  {
    const char *name;
    gint64 audio_pts_ms; /* -1: no audio played yet */
    gint64 audio_played_ago_ms;
    gint64 video_pts_ms;
    gint64 held_ms;
    gboolean newer_waiting;
    ConfabLipSyncAction expect;
  } cases[] = {
    { "no audio: show at once", -1, 0, 5000, 0, FALSE, CONFAB_LIP_SYNC_SHOW },
    { "in step", 5000, 0, 5000, 0, FALSE, CONFAB_LIP_SYNC_SHOW },
    { "20 ms early: within tolerance", 5000, 0, 5020, 0, FALSE, CONFAB_LIP_SYNC_SHOW },
    { "60 ms early: hold", 5000, 0, 5060, 0, FALSE, CONFAB_LIP_SYNC_HOLD },
    { "the audio ran on 20 ms since its pull: 50 ms early is 30", 5000, 20, 5050, 0, FALSE,
      CONFAB_LIP_SYNC_SHOW },
    { "400 ms early, held 100 ms: still hold", 5000, 0, 5400, 100, FALSE, CONFAB_LIP_SYNC_HOLD },
    { "400 ms early, held 150 ms: video waits no longer", 5000, 0, 5400, 150, FALSE,
      CONFAB_LIP_SYNC_SHOW },
    { "50 ms late: show", 5000, 0, 4950, 0, TRUE, CONFAB_LIP_SYNC_SHOW },
    { "100 ms late, newer waiting: drop", 5000, 0, 4900, 0, TRUE, CONFAB_LIP_SYNC_DROP },
    { "100 ms late, nothing newer: a stale picture beats none", 5000, 0, 4900, 0, FALSE,
      CONFAB_LIP_SYNC_SHOW },
    { "audio stalled 250 ms ago: no clock, show", 5000, 250, 5400, 0, FALSE, CONFAB_LIP_SYNC_SHOW },
    { "audio stalled 250 ms ago: no clock, no drop", 5000, 250, 1000, 0, TRUE,
      CONFAB_LIP_SYNC_SHOW },
    { "a picture without a timestamp: show", 5000, 0, 0, 0, FALSE, CONFAB_LIP_SYNC_SHOW },
  };
  gint64 now = MS (100000);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      ConfabLipSyncClock clock;

      g_test_message ("%s", cases[i].name);
      confab_lip_sync_clock_init (&clock);
      if (cases[i].audio_pts_ms >= 0)
        confab_lip_sync_clock_played (&clock, MS (cases[i].audio_pts_ms),
                                      now - MS (cases[i].audio_played_ago_ms));
      g_assert_cmpint (confab_lip_sync_decide (&clock, MS (cases[i].video_pts_ms),
                                               MS (cases[i].held_ms), cases[i].newer_waiting, now),
                       ==, cases[i].expect);
    }
}

/* When a held picture becomes due. */
static void
test_due (void)
{
  ConfabLipSyncClock clock;
  gint64 now = MS (100000);

  confab_lip_sync_clock_init (&clock);
  /* No audio: now. */
  g_assert_cmpint (confab_lip_sync_due (&clock, MS (5100), 0, now), ==, now);
  /* 100 ms early: when the audio is 30 ms from it. */
  confab_lip_sync_clock_played (&clock, MS (5000), now);
  g_assert_cmpint (confab_lip_sync_due (&clock, MS (5100), 0, now), ==, now + MS (70));
  /* 400 ms early and already held 100 ms: the 150 ms bound. */
  g_assert_cmpint (confab_lip_sync_due (&clock, MS (5400), MS (100), now), ==, now + MS (50));
  /* And it is SHOW then. */
  g_assert_cmpint (confab_lip_sync_decide (&clock, MS (5400), MS (150), FALSE, now + MS (50)), ==,
                   CONFAB_LIP_SYNC_SHOW);
}

/* A 30 fps stream whose audio plays 100 ms behind it (the audio jitter
 * buffer's delay): every picture is held ~70 ms and none waits more than
 * 150 ms; with no audio nothing is held. */
static void
test_stream (void)
{
  for (guint with_audio = 0; with_audio < 2; with_audio++)
    {
      ConfabLipSyncClock clock;
      gint64 max_wait = 0;
      guint held = 0, shown = 0;

      confab_lip_sync_clock_init (&clock);
      for (guint f = 0; f < 90; f++)
        {
          /* Captured at t, decoded at t + 20 ms; audio of t - 100 ms plays at t + 20 ms. */
          gint64 pts = MS (5000) + f * 33333;
          gint64 decoded = MS (100000) + f * 33333 + MS (20);
          gint64 t = decoded;

          for (guint step = 0; step < 100; step++)
            {
              ConfabLipSyncAction action;

              if (with_audio)
                confab_lip_sync_clock_played (&clock, pts + (t - decoded) - MS (100), t);
              action = confab_lip_sync_decide (&clock, pts, t - decoded, FALSE, t);
              if (action != CONFAB_LIP_SYNC_HOLD)
                {
                  g_assert_cmpint (action, ==, CONFAB_LIP_SYNC_SHOW);
                  shown++;
                  break;
                }
              held += t == decoded;
              t = confab_lip_sync_due (&clock, pts, t - decoded, t);
            }
          max_wait = MAX (max_wait, t - decoded);
        }
      g_test_message ("audio %s: %u held, longest wait %" G_GINT64_FORMAT " ms",
                      with_audio ? "on" : "off", held, max_wait / 1000);
      g_assert_cmpuint (shown, ==, 90);
      if (with_audio)
        {
          g_assert_cmpuint (held, ==, 90);
          g_assert_cmpint (max_wait, >=, MS (69));
          g_assert_cmpint (max_wait, <=, MS (71));
        }
      else
        {
          g_assert_cmpuint (held, ==, 0);
          g_assert_cmpint (max_wait, ==, 0);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/lip-sync/decide", test_decide);
  g_test_add_func ("/call/lip-sync/due", test_due);
  g_test_add_func ("/call/lip-sync/stream", test_stream);
  return g_test_run ();
}
