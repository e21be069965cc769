/* confab-grid-layout.h: where the participant tiles go, as pure arithmetic
 * (no GTK, unit tested): the grid of rows and columns that gives N tiles of
 * one aspect ratio the largest size in a W × H area, and the speaker view
 * (one large tile over a strip of small ones). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  int x;
  int y;
  int width;
  int height;
} ConfabGridRect;

typedef struct
{
  guint rows;
  guint columns;
  int tile_width;
  int tile_height;
} ConfabGridLayout;

/* Tiles are 16:9 unless told otherwise. */
#define CONFAB_GRID_ASPECT_WIDTH  16
#define CONFAB_GRID_ASPECT_HEIGHT 9

/* The rows and columns (rows × columns ≥ @n_tiles, no empty row) that make
 * the tiles, at @aspect_w:@aspect_h and @spacing apart, as large as possible
 * inside @width × @height. FALSE (and an all-zero layout) when there is
 * nothing to place or no room: @n_tiles is 0, or the area minus the spacing
 * is not positive. */
gboolean confab_grid_layout_compute (guint n_tiles,
                                     int width,
                                     int height,
                                     int spacing,
                                     int aspect_w,
                                     int aspect_h,
                                     ConfabGridLayout *layout);

/* @layout placed in the area: @rects[i] for tile i, row by row, the grid
 * centred, and a last row that is not full centred too. */
void confab_grid_layout_place (const ConfabGridLayout *layout,
                               guint n_tiles,
                               int width,
                               int height,
                               int spacing,
                               ConfabGridRect *rects);

/* Speaker view: @rects[0] is the large tile, the others go in one strip
 * along the bottom (or the right side, when the area is much wider than
 * tall), each at least @min_strip_width wide. Tiles that do not fit in the
 * strip get an empty rect (width and height 0). Returns how many tiles are
 * shown (rects with a size), 0 when nothing fits. */
guint confab_grid_layout_speaker (
    guint n_tiles, int width, int height, int spacing, int min_strip_width, ConfabGridRect *rects);

G_END_DECLS
