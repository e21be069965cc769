/* test-grid-layout.c: the participant grid's arithmetic (ui/confab-grid-layout):
 * the largest 16:9 tiles for N participants in a window of any size, tiles
 * inside the area and apart, the speaker view, and sizes that leave no room. */
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
  return g_test_run ();
}
