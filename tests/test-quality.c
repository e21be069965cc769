/* test-quality.c: PROTOCOL.md §5's adaptive quality rule (call/confab-quality)
 * as a pure unit with injected time: tiers capped by what the user asked,
 * step-down after 1.5 s of poor reception, step-up after 5 s of good, 3 s
 * between steps, the worst receiver wins, CONGESTION counts as poor. */
#define G_LOG_DOMAIN "test-quality"

#include "confab-quality.h"

#define MS(x) ((gint64) (x) *1000)

static void
test_levels (void)
{
  static const struct
  {
    int width, height, fps;
    guint n_levels;
    ConfabQualityLevel first, last;
  } cases[] = {
    /* The protocol's table exactly. */
    { 1280, 720, 30, 4, { 0, 1280, 720, 30, 1500 }, { 3, 426, 240, 10, 150 } },
    /* Bigger than the top tier: capped at it. */
    { 1920, 1080, 60, 4, { 0, 1280, 720, 30, 1500 }, { 3, 426, 240, 10, 150 } },
    /* confab-cli's default: starts where the user asked, bitrate scaled. */
    { 640, 360, 30, 4, { 0, 640, 360, 30, 375 }, { 3, 426, 240, 10, 150 } },
    /* Small pictures: only the rate can fall. */
    { 320, 180, 15, 2, { 0, 320, 180, 15, 46 }, { 3, 320, 180, 10, 46 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      ConfabQuality q;
      const ConfabQualityLevel *l;

      confab_quality_init (&q, cases[i].width, cases[i].height, cases[i].fps, 0);
      g_test_message ("%dx%d@%d: %u levels", cases[i].width, cases[i].height, cases[i].fps,
                      q.n_levels);
      for (guint k = 0; k < q.n_levels; k++)
        g_test_message ("  tier %d %dx%d@%d %u kbps", q.levels[k].tier, q.levels[k].width,
                        q.levels[k].height, q.levels[k].fps, q.levels[k].bitrate_kbps);
      g_assert_cmpuint (q.n_levels, ==, cases[i].n_levels);
      l = &q.levels[0];
      g_assert_cmpint (l->width, ==, cases[i].first.width);
      g_assert_cmpint (l->height, ==, cases[i].first.height);
      g_assert_cmpint (l->fps, ==, cases[i].first.fps);
      g_assert_cmpuint (l->bitrate_kbps, ==, cases[i].first.bitrate_kbps);
      l = &q.levels[q.n_levels - 1];
      g_assert_cmpint (l->tier, ==, cases[i].last.tier);
      g_assert_cmpint (l->width, ==, cases[i].last.width);
      g_assert_cmpint (l->height, ==, cases[i].last.height);
      g_assert_cmpint (l->fps, ==, cases[i].last.fps);
      g_assert_cmpuint (l->bitrate_kbps, ==, cases[i].last.bitrate_kbps);
      /* Every level is lower than the one before it. */
      for (guint k = 1; k < q.n_levels; k++)
        g_assert_true ((gint64) q.levels[k].width * q.levels[k].height * q.levels[k].fps <
                           (gint64) q.levels[k - 1].width * q.levels[k - 1].height *
                               q.levels[k - 1].fps ||
                       q.levels[k].bitrate_kbps < q.levels[k - 1].bitrate_kbps);
      g_assert_cmpuint (q.level, ==, 0);
    }
}

/* A scripted run: from @from_ms to @to_ms, every 500 ms, @receiver reports
 * (@fps_ratio, @bitrate_ratio) (receiver 0: nobody reports, -1: CONGESTION);
 * the test records when the level changes. */
typedef struct
{
  gint64 from_ms, to_ms;
  guint64 receiver;
  double fps_ratio, bitrate_ratio;
} Phase;

typedef struct
{
  gint64 at_ms;
  ConfabQualityChange change;
} Step;

/* @event_driven: confab_quality_update() only on reports and at the time
 * confab_quality_next_update() asked for (as ConfabMediaSender runs it);
 * else every 50 ms. */
static guint
run_script (ConfabQuality *q,
            const Phase *phases,
            guint n_phases,
            Step *steps,
            guint max_steps,
            gboolean event_driven)
{
  guint n = 0;
  gint64 end_ms = 0;
  gint64 next_us = -1;

  for (guint p = 0; p < n_phases; p++)
    end_ms = MAX (end_ms, phases[p].to_ms);
  /* Time runs in 1 ms (events) or 50 ms ticks, a second past the last report. */
  for (gint64 t = 0; t <= end_ms + 1000; t += event_driven ? 1 : 50)
    {
      gboolean reported = FALSE;

      for (guint p = 0; p < n_phases; p++)
        {
          const Phase *ph = &phases[p];

          if (t < ph->from_ms || t >= ph->to_ms || (t - ph->from_ms) % 500 != 0)
            continue;
          if (ph->receiver == (guint64) -1)
            confab_quality_congestion (q, MS (t));
          else if (ph->receiver != 0)
            confab_quality_report (q, ph->receiver, ph->fps_ratio, ph->bitrate_ratio, MS (t));
          reported |= ph->receiver != 0;
        }
      if (event_driven && !reported && (next_us < 0 || MS (t) < next_us))
        continue;
      {
        ConfabQualityChange change = confab_quality_update (q, MS (t));

        if (change != CONFAB_QUALITY_START && n < max_steps)
          steps[n++] = (Step){ t, change };
        next_us = confab_quality_next_update (q, MS (t));
      }
    }
  return n;
}

static void
test_rule (void)
{
  static const struct
  {
    const char *name;
    Phase phases[4];
    guint n_phases;
    guint n_steps;
    Step steps[4];
    guint final_level;
  } cases[] = {
    { "good reception keeps the top tier", { { 0, 20000, 1, 1.0, 1.0 } }, 1, 0, { { 0 } }, 0 },
    { "20 % fps for 1.5 s steps down once, then 3 s later again",
      { { 0, 4000, 1, 0.2, 0.9 } },
      1,
      2,
      { { 1500, CONFAB_QUALITY_DOWN }, { 4500, CONFAB_QUALITY_DOWN } },
      2 },
    { "poor for 1 s only: nothing",
      { { 0, 1000, 1, 0.2, 0.2 }, { 1000, 10000, 1, 1.0, 1.0 } },
      2,
      0,
      { { 0 } },
      0 },
    { "bitrate ratio 0.3 is poor, 0.45 is not",
      { { 0, 2000, 1, 1.0, 0.3 }, { 2000, 6000, 1, 1.0, 0.45 } },
      2,
      1,
      { { 1500, CONFAB_QUALITY_DOWN } },
      1 },
    { "down, then good for 5 s steps back up",
      { { 0, 2000, 1, 0.2, 0.2 }, { 2000, 12000, 1, 0.95, 0.9 } },
      2,
      2,
      { { 1500, CONFAB_QUALITY_DOWN }, { 7000, CONFAB_QUALITY_UP } },
      0 },
    { "fps 0.8 is neither poor nor good: stays down",
      { { 0, 2000, 1, 0.2, 0.2 }, { 2000, 12000, 1, 0.8, 0.9 } },
      2,
      1,
      { { 1500, CONFAB_QUALITY_DOWN } },
      1 },
    { "the worst receiver wins",
      { { 0, 6000, 1, 1.0, 1.0 }, { 0, 2000, 2, 0.3, 1.0 } },
      2,
      1,
      { { 1500, CONFAB_QUALITY_DOWN } },
      1 },
    { "one good and one middling receiver: no step up",
      { { 0, 2000, 1, 0.1, 0.1 }, { 2000, 12000, 1, 1.0, 1.0 }, { 2000, 12000, 2, 0.8, 1.0 } },
      3,
      1,
      { { 1500, CONFAB_QUALITY_DOWN } },
      1 },
    { "CONGESTION while it lasts steps down",
      { { 0, 3000, -1, 0, 0 }, { 0, 3000, 1, 1.0, 1.0 } },
      2,
      1,
      { { 1500, CONFAB_QUALITY_DOWN } },
      1 },
    { "silence is no evidence: no step up without reports",
      { { 0, 2000, 1, 0.1, 0.1 }, { 2000, 12000, 0, 0, 0 } },
      2,
      1,
      { { 1500, CONFAB_QUALITY_DOWN } },
      1 },
    { "never below the lowest tier",
      { { 0, 20000, 1, 0.1, 0.1 } },
      1,
      3,
      { { 1500, CONFAB_QUALITY_DOWN },
        { 4500, CONFAB_QUALITY_DOWN },
        { 7500, CONFAB_QUALITY_DOWN } },
      3 },
  };

  for (guint run = 0; run < 2 * G_N_ELEMENTS (cases); run++)
    {
      ConfabQuality q;
      Step steps[8];
      guint n;
      gboolean event_driven = run >= G_N_ELEMENTS (cases);
      guint i = run % G_N_ELEMENTS (cases);

      g_test_message ("%s (%s)", cases[i].name,
                      event_driven ? "timer at next_update" : "50 ms ticks");
      confab_quality_init (&q, 1280, 720, 30, 0);
      n = run_script (&q, cases[i].phases, cases[i].n_phases, steps, G_N_ELEMENTS (steps),
                      event_driven);
      for (guint k = 0; k < n; k++)
        g_test_message ("  %s at %" G_GINT64_FORMAT " ms",
                        steps[k].change == CONFAB_QUALITY_DOWN ? "down" : "up", steps[k].at_ms);
      g_assert_cmpuint (n, ==, cases[i].n_steps);
      for (guint k = 0; k < n; k++)
        {
          g_assert_cmpint (steps[k].change, ==, cases[i].steps[k].change);
          g_assert_cmpint (steps[k].at_ms, ==, cases[i].steps[k].at_ms);
        }
      g_assert_cmpuint (q.level, ==, cases[i].final_level);
    }
}

/* A receiver that left stops counting at once. */
static void
test_forget (void)
{
  ConfabQuality q;

  confab_quality_init (&q, 1280, 720, 30, 0);
  confab_quality_report (&q, 5, 0.1, 0.1, MS (0));
  g_assert_cmpint (confab_quality_update (&q, MS (0)), ==, CONFAB_QUALITY_START);
  confab_quality_forget (&q, 5);
  confab_quality_report (&q, 6, 1.0, 1.0, MS (500));
  confab_quality_update (&q, MS (500));
  confab_quality_report (&q, 6, 1.0, 1.0, MS (1000));
  confab_quality_update (&q, MS (1000));
  confab_quality_report (&q, 6, 1.0, 1.0, MS (1500));
  g_assert_cmpint (confab_quality_update (&q, MS (1500)), ==, CONFAB_QUALITY_START);
  g_assert_cmpuint (q.level, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/quality/levels", test_levels);
  g_test_add_func ("/call/quality/rule", test_rule);
  g_test_add_func ("/call/quality/forget", test_forget);
  return g_test_run ();
}
