/* test-grid-layout.c: the participant grid's arithmetic (ui/confab-grid-layout):
 * the largest 16:9 tiles for N participants in a window of any size, tiles
 * inside the area and apart, the speaker view, and sizes that leave no room;
 * when new pictures are rendered (the render pacer), against a model of the
 * grid's frame clock and picture slots. */
#define G_LOG_DOMAIN "test-grid-layout"

#include "confab-grid-layout.h"

#define SPACING 8

static void
assert_grid (guint n, int width, int height, guint rows, guint columns, int tile_w, int tile_h)
{
  ConfabGridLayout layout;

  g_assert_true (confab_grid_layout_compute (n, width, height, SPACING, 16, 9, &layout));
  g_assert_cmpuint (layout.rows, ==, rows);
  g_assert_cmpuint (layout.columns, ==, columns);
  g_assert_cmpint (layout.tile_width, ==, tile_w);
  g_assert_cmpint (layout.tile_height, ==, tile_h);
}

static gboolean
rects_overlap (const ConfabGridRect *a, const ConfabGridRect *b)
{
  return a->x < b->x + b->width && b->x < a->x + a->width && a->y < b->y + b->height &&
         b->y < a->y + a->height;
}

/* Every shown rect inside the area, none overlapping another, none empty. */
static void
assert_placed (const ConfabGridRect *rects, guint n, int width, int height, gboolean all_shown)
{
  for (guint i = 0; i < n; i++)
    {
      if (rects[i].width == 0 && rects[i].height == 0 && !all_shown)
        continue;
      g_assert_cmpint (rects[i].width, >, 0);
      g_assert_cmpint (rects[i].height, >, 0);
      g_assert_cmpint (rects[i].x, >=, 0);
      g_assert_cmpint (rects[i].y, >=, 0);
      g_assert_cmpint (rects[i].x + rects[i].width, <=, width);
      g_assert_cmpint (rects[i].y + rects[i].height, <=, height);
      for (guint j = 0; j < i; j++)
        if (rects[j].width > 0)
          g_assert_false (rects_overlap (&rects[i], &rects[j]));
    }
}

static void
test_common_counts (void)
{
  /* 1280 × 720 minus spacing: one tile fills it, then 2 side by side, 2 × 2,
   * 3 × 3, 5 × 5. */
  assert_grid (1, 1280, 720, 1, 1, 1280, 720);
  assert_grid (2, 1280, 720, 1, 2, 636, 357);
  assert_grid (3, 1280, 720, 2, 2, 632, 356);
  assert_grid (4, 1280, 720, 2, 2, 632, 356);
  assert_grid (9, 1280, 720, 3, 3, 416, 234);
  assert_grid (25, 1280, 720, 5, 5, 243, 137);
  /* A tall window stacks. */
  assert_grid (2, 720, 1280, 2, 1, 720, 405);
}

static void
test_narrow (void)
{
  ConfabGridLayout layout;
  ConfabGridRect rects[25];

  /* A phone, 360 px wide: up to 4 people are one column of full-width tiles. */
  assert_grid (1, 360, 640, 1, 1, 360, 202);
  assert_grid (2, 360, 640, 2, 1, 360, 202);
  assert_grid (3, 360, 640, 3, 1, 360, 202);
  assert_grid (4, 360, 640, 4, 1, 273, 154);
  /* 25 still fit, each one as large as it can be. */
  g_assert_true (confab_grid_layout_compute (25, 360, 640, SPACING, 16, 9, &layout));
  g_assert_cmpuint (layout.rows * layout.columns, >=, 25);
  g_assert_cmpint (layout.tile_width, >=, 100);
  confab_grid_layout_place (&layout, 25, 360, 640, SPACING, rects);
  assert_placed (rects, 25, 360, 640, TRUE);
}

/* Exhaustive over counts and window shapes: no empty row, tiles at 16:9
 * (within rounding), inside the area and apart, and no other column count
 * gives larger tiles. */
static void
test_properties (void)
{
  static const int sizes[][2] = { { 1280, 720 }, { 360, 640 },  { 360, 200 },  { 1920, 1080 },
                                  { 800, 800 },  { 3000, 400 }, { 200, 3000 }, { 97, 61 } };
  ConfabGridRect rects[30];

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (guint n = 1; n <= 30; n++)
      {
        int width = sizes[s][0], height = sizes[s][1];
        ConfabGridLayout layout;
        gint64 area;

        if (!confab_grid_layout_compute (n, width, height, SPACING, 16, 9, &layout))
          {
            /* Only a tiny area may run out of room. */
            g_assert_cmpint (width, <, 200);
            continue;
          }
        g_assert_cmpuint (layout.rows * layout.columns, >=, n);
        g_assert_cmpuint ((layout.rows - 1) * layout.columns, <, n);
        g_assert_cmpint (ABS (layout.tile_width * 9 - layout.tile_height * 16), <=, 16);
        area = (gint64) layout.tile_width * layout.tile_height;
        for (guint columns = 1; columns <= n; columns++)
          {
            guint rows = (n + columns - 1) / columns;
            gint64 w = (width - (gint64) SPACING * (columns - 1)) / columns;
            gint64 h = (height - (gint64) SPACING * (rows - 1)) / rows;

            if (w <= 0 || h <= 0)
              continue;
            /* The largest 16:9 box of this shape, real-valued: never more
             * than rounding above what was chosen. */
            if (w * 9 > h * 16)
              w = h * 16 / 9;
            else
              h = w * 9 / 16;
            g_assert_cmpint (w * h, <=, area + w + h);
          }
        confab_grid_layout_place (&layout, n, width, height, SPACING, rects);
        assert_placed (rects, n, width, height, TRUE);
      }
}

static void
test_last_row_centred (void)
{
  ConfabGridLayout layout;
  ConfabGridRect rects[3];

  g_assert_true (confab_grid_layout_compute (3, 1280, 720, SPACING, 16, 9, &layout));
  confab_grid_layout_place (&layout, 3, 1280, 720, SPACING, rects);
  /* Two on top, the third centred below them. */
  g_assert_cmpint (rects[0].y, ==, rects[1].y);
  g_assert_cmpint (rects[2].y, >, rects[0].y);
  g_assert_cmpint (rects[2].x + rects[2].width / 2, ==, 640);
  /* The whole grid is centred vertically. */
  g_assert_cmpint (rects[0].y, ==, 720 - (rects[2].y + rects[2].height));
}

static void
test_degenerate (void)
{
  ConfabGridLayout layout;
  ConfabGridRect rects[4] = { { 1, 2, 3, 4 } };

  g_assert_false (confab_grid_layout_compute (0, 1280, 720, SPACING, 16, 9, &layout));
  g_assert_cmpuint (layout.rows, ==, 0);
  g_assert_false (confab_grid_layout_compute (4, 0, 720, SPACING, 16, 9, &layout));
  g_assert_false (confab_grid_layout_compute (4, 1280, 0, SPACING, 16, 9, &layout));
  g_assert_false (confab_grid_layout_compute (4, -5, -5, SPACING, 16, 9, &layout));
  g_assert_false (confab_grid_layout_compute (4, 1280, 720, SPACING, 0, 9, &layout));
  /* The spacing alone is wider than the area. */
  g_assert_false (confab_grid_layout_compute (25, 20, 20, SPACING, 16, 9, &layout));
  g_assert_cmpint (layout.tile_width, ==, 0);
  /* 1 × 1 px: a tile of 16:9 cannot be made. */
  g_assert_false (confab_grid_layout_compute (1, 1, 1, 0, 16, 9, &layout));
  /* A failed layout places nothing. */
  confab_grid_layout_place (&layout, 4, 20, 20, SPACING, rects);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpint (rects[i].width, ==, 0);
  /* Huge sizes do not overflow. */
  g_assert_true (confab_grid_layout_compute (25, G_MAXINT, G_MAXINT, SPACING, 16, 9, &layout));
  g_assert_cmpint (layout.tile_width, >, 0);
  g_assert_cmpint (layout.tile_height, >, 0);
  /* A negative spacing counts as none. */
  g_assert_true (confab_grid_layout_compute (1, 160, 90, -10, 16, 9, &layout));
  g_assert_cmpint (layout.tile_width, ==, 160);
}

static void
test_speaker (void)
{
  ConfabGridRect rects[25];
  guint shown;

  /* Alone: the whole area. */
  g_assert_cmpuint (confab_grid_layout_speaker (1, 1280, 720, SPACING, 160, rects), ==, 1);
  g_assert_cmpint (rects[0].width, ==, 1280);
  g_assert_cmpint (rects[0].height, ==, 720);

  /* Four: one large, three in a strip below it. */
  shown = confab_grid_layout_speaker (4, 1280, 720, SPACING, 160, rects);
  g_assert_cmpuint (shown, ==, 4);
  assert_placed (rects, 4, 1280, 720, TRUE);
  g_assert_cmpint (rects[0].width * rects[0].height, >, 4 * rects[1].width * rects[1].height);
  g_assert_cmpint (rects[1].y, >, rects[0].y + rects[0].height - 1);
  g_assert_cmpint (rects[1].y, ==, rects[3].y);

  /* 25: the strip holds what fits; the rest are hidden (empty rects). */
  shown = confab_grid_layout_speaker (25, 1280, 720, SPACING, 160, rects);
  g_assert_cmpuint (shown, >, 2);
  g_assert_cmpuint (shown, <, 25);
  assert_placed (rects, 25, 1280, 720, FALSE);
  g_assert_cmpint (rects[24].width, ==, 0);
  g_assert_cmpint (rects[shown - 1].width, >=, 160);

  /* A very wide area puts the strip on the right. */
  shown = confab_grid_layout_speaker (3, 3000, 700, SPACING, 160, rects);
  g_assert_cmpuint (shown, ==, 3);
  assert_placed (rects, 3, 3000, 700, TRUE);
  g_assert_cmpint (rects[1].x, >=, rects[0].x + rects[0].width);

  /* Narrow phone: still a strip of at least 160 px tiles, or only the speaker. */
  shown = confab_grid_layout_speaker (9, 360, 640, SPACING, 160, rects);
  g_assert_cmpuint (shown, >=, 2);
  assert_placed (rects, 9, 360, 640, FALSE);

  /* Too small for a strip: only the speaker. */
  g_assert_cmpuint (confab_grid_layout_speaker (5, 100, 60, SPACING, 160, rects), ==, 1);
  g_assert_cmpint (rects[1].width, ==, 0);
  /* Nothing at all. */
  g_assert_cmpuint (confab_grid_layout_speaker (5, 0, 600, SPACING, 160, rects), ==, 0);
  g_assert_cmpuint (confab_grid_layout_speaker (0, 800, 600, SPACING, 160, rects), ==, 0);
}

/* ---- render pacing ------------------------------------------------------------- */

#define FRAME_US  16667 /* the frame clock at 60 Hz */
#define MAX_TILES 9
#define MAX_PICS  400

/* The grid's tick as ConfabVideoGrid runs it: a picture that arrived is
 * taken on the next frame; a tile keeps a pending picture and one after it
 * (a third drops the oldest); pictures waiting are rendered when the pacer
 * says so, or at once when a tile holds two. */
typedef struct
{
  guint n_tiles;
  guint n_pics;
  gint64 arrival[MAX_TILES][MAX_PICS];
  gint64 shown[MAX_TILES][MAX_PICS]; /* frame time rendered, -1 never */
  int dropped;
  guint renders;
  guint ticks; /* frames on which the tick ran (it stops with nothing waiting) */
  guint max_renders_per_second;
} Sim;

static void
simulate (Sim *sim)
{
  ConfabRenderPacer pacer = { 0 };
  int pending[MAX_TILES], next[MAX_TILES];
  guint taken[MAX_TILES] = { 0 };
  gint64 start = G_USEC_PER_SEC, end = 0;
  GArray *render_times = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint t = 0; t < sim->n_tiles; t++)
    {
      pending[t] = next[t] = -1;
      for (guint i = 0; i < sim->n_pics; i++)
        {
          sim->shown[t][i] = -1;
          end = MAX (end, sim->arrival[t][i]);
        }
    }
  sim->dropped = 0;
  sim->renders = sim->ticks = 0;
  for (gint64 now = start; now <= end + 10 * FRAME_US; now += FRAME_US)
    {
      gboolean waiting = FALSE, urgent = FALSE, woken = FALSE;

      for (guint t = 0; t < sim->n_tiles; t++)
        {
          woken |= pending[t] >= 0;
          while (taken[t] < sim->n_pics && sim->arrival[t][taken[t]] <= now)
            {
              int pic = (int) taken[t]++;

              woken = TRUE;
              if (pending[t] < 0)
                pending[t] = pic;
              else
                {
                  if (next[t] >= 0)
                    {
                      sim->dropped++;
                      pending[t] = next[t];
                    }
                  next[t] = pic;
                }
            }
          waiting |= pending[t] >= 0;
          urgent |= next[t] >= 0;
        }
      if (!woken)
        continue; /* the tick is not running: nothing arrived, nothing waits */
      sim->ticks++;
      if (!waiting || !confab_render_pacer_render (&pacer, now, urgent))
        continue;
      sim->renders++;
      g_array_append_val (render_times, now);
      for (guint t = 0; t < sim->n_tiles; t++)
        if (pending[t] >= 0)
          {
            sim->shown[t][pending[t]] = now;
            pending[t] = next[t];
            next[t] = -1;
          }
    }
  sim->max_renders_per_second = 0;
  for (guint i = 0, j = 0; i < render_times->len; i++)
    {
      gint64 from = g_array_index (render_times, gint64, i);

      while (j < render_times->len &&
             g_array_index (render_times, gint64, j) < from + G_USEC_PER_SEC)
        j++;
      sim->max_renders_per_second = MAX (sim->max_renders_per_second, j - i);
    }
  g_array_unref (render_times);
}

/* The frame on which a picture that arrived at @arrival is taken. */
static gint64
take_frame (gint64 arrival)
{
  gint64 start = G_USEC_PER_SEC;

  return start + (arrival - start + FRAME_US - 1) / FRAME_US * FRAME_US;
}

/* One 30 fps peer whose 10th picture comes 20 ms late: every picture is
 * shown, and after the late one each is shown on the frame it is taken (the
 * old minimum interval between renders kept every later picture a frame
 * late, for good, and the frame clock running at 60 Hz). */
static void
test_pacer_one_peer_late_picture (void)
{
  Sim *sim = g_new0 (Sim, 1);

  sim->n_tiles = 1;
  sim->n_pics = 150;
  for (guint i = 0; i < sim->n_pics; i++)
    sim->arrival[0][i] =
        G_USEC_PER_SEC + 1000 + (gint64) i * G_USEC_PER_SEC / 30 + (i == 10 ? 20000 : 0);
  simulate (sim);
  g_assert_cmpint (sim->dropped, ==, 0);
  for (guint i = 0; i < sim->n_pics; i++)
    {
      g_assert_cmpint (sim->shown[0][i], >=, 0);
      if (i > 11)
        g_assert_cmpint (sim->shown[0][i], ==, take_frame (sim->arrival[0][i]));
    }
  /* One frame-clock cycle per picture, give or take the late one. */
  g_assert_cmpuint (sim->ticks, <=, sim->n_pics + 2);
  g_test_message ("%u pictures: %u renders, the tick ran on %u frames", sim->n_pics, sim->renders,
                  sim->ticks);
  g_free (sim);
}

/* Nine 30 fps peers at spread phases with +-6 ms of jitter for 10 s: at
 * most ~30 renders in any second (two renders' worth of credit on top), no
 * picture dropped, none waits more than two frames. */
static void
test_pacer_nine_peers (void)
{
  Sim *sim = g_new0 (Sim, 1);
  GRand *rand = g_rand_new_with_seed (20261126);
  gint64 worst = 0;

  sim->n_tiles = 9;
  sim->n_pics = 300;
  for (guint t = 0; t < sim->n_tiles; t++)
    for (guint i = 0; i < sim->n_pics; i++)
      sim->arrival[t][i] = G_USEC_PER_SEC + 10000 + t * 3700 + (gint64) i * G_USEC_PER_SEC / 30 +
                           g_rand_int_range (rand, -6000, 6001);
  simulate (sim);
  g_assert_cmpint (sim->dropped, ==, 0);
  for (guint t = 0; t < sim->n_tiles; t++)
    for (guint i = 0; i < sim->n_pics; i++)
      {
        g_assert_cmpint (sim->shown[t][i], >=, 0);
        worst = MAX (worst, sim->shown[t][i] - take_frame (sim->arrival[t][i]));
      }
  g_test_message ("9 x %u pictures: %u renders (at most %u in a second), longest wait %.1f ms",
                  sim->n_pics, sim->renders, sim->max_renders_per_second, worst / 1000.0);
  g_assert_cmpint (worst, <=, 2 * FRAME_US);
  g_assert_cmpuint (sim->max_renders_per_second, <=,
                    G_USEC_PER_SEC / CONFAB_RENDER_COST_US + 1 +
                        CONFAB_RENDER_MAX_CREDIT_US / CONFAB_RENDER_COST_US);
  g_rand_free (rand);
  g_free (sim);
}

/* The pacer alone: full credit at first, never more than two renders'
 * worth, an urgent render goes through without credit. */
static void
test_pacer_credit (void)
{
  ConfabRenderPacer pacer = { 0 };
  gint64 t = 5 * G_USEC_PER_SEC;

  g_assert_true (confab_render_pacer_render (&pacer, t, FALSE));
  g_assert_true (confab_render_pacer_render (&pacer, t, FALSE));
  g_assert_false (confab_render_pacer_render (&pacer, t, FALSE));
  g_assert_true (confab_render_pacer_render (&pacer, t, TRUE));
  /* A minute idle still buys only two renders. */
  t += 60 * G_USEC_PER_SEC;
  g_assert_true (confab_render_pacer_render (&pacer, t, FALSE));
  g_assert_true (confab_render_pacer_render (&pacer, t, FALSE));
  g_assert_false (confab_render_pacer_render (&pacer, t, FALSE));
  /* A frame clock that goes backwards adds nothing. */
  g_assert_false (confab_render_pacer_render (&pacer, t - G_USEC_PER_SEC, FALSE));
  g_assert_true (confab_render_pacer_render (&pacer, t + CONFAB_RENDER_COST_US, FALSE));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/grid-layout/common-counts", test_common_counts);
  g_test_add_func ("/ui/grid-layout/narrow", test_narrow);
  g_test_add_func ("/ui/grid-layout/properties", test_properties);
  g_test_add_func ("/ui/grid-layout/last-row-centred", test_last_row_centred);
  g_test_add_func ("/ui/grid-layout/degenerate", test_degenerate);
  g_test_add_func ("/ui/grid-layout/speaker", test_speaker);
  g_test_add_func ("/ui/render-pacer/credit", test_pacer_credit);
  g_test_add_func ("/ui/render-pacer/one-peer-late-picture", test_pacer_one_peer_late_picture);
  g_test_add_func ("/ui/render-pacer/nine-peers", test_pacer_nine_peers);
  return g_test_run ();
}
