/* confab-quality.h: the sender's adaptive quality rule of PROTOCOL.md §5 as a
 * pure state machine: camera tiers capped by what the user asked, fed with
 * receivers' reception ratios and relay CONGESTION, time injected by the
 * caller (monotonic microseconds) so tests drive it without clocks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* PROTOCOL.md §5 */
#define CONFAB_QUALITY_DOWN_FPS_RATIO     0.50
#define CONFAB_QUALITY_DOWN_BITRATE_RATIO 0.40
#define CONFAB_QUALITY_UP_FPS_RATIO       0.85
#define CONFAB_QUALITY_UP_BITRATE_RATIO   0.75
#define CONFAB_QUALITY_DOWN_AFTER_US      (1500 * 1000)
#define CONFAB_QUALITY_UP_AFTER_US        (5 * G_USEC_PER_SEC)
#define CONFAB_QUALITY_STEP_INTERVAL_US   (3 * G_USEC_PER_SEC)
/* A receiver's report counts this long; receivers report every 500 ms. */
#define CONFAB_QUALITY_REPORT_TTL_US (1500 * 1000)
/* The relay says CONGESTION at most once a second while it drops. */
#define CONFAB_QUALITY_CONGESTION_TTL_US (1200 * 1000)

#define CONFAB_QUALITY_MAX_LEVELS    4
#define CONFAB_QUALITY_MAX_RECEIVERS 32

typedef struct
{
  int tier;  /* the PROTOCOL.md §5 camera tier this level comes from (0 = 720p30) */
  int width; /* at most the tier's and the user's */
  int height;
  int fps;
  guint bitrate_kbps;
} ConfabQualityLevel;

typedef enum
{
  CONFAB_QUALITY_START,
  CONFAB_QUALITY_DOWN,
  CONFAB_QUALITY_UP,
} ConfabQualityChange;

typedef struct
{
  guint64 receiver; /* 0: a free slot */
  gint64 at_us;
  double fps_ratio;
  double bitrate_ratio;
} ConfabQualityReport;

typedef struct
{
  ConfabQualityLevel levels[CONFAB_QUALITY_MAX_LEVELS];
  guint n_levels;
  guint level;
  ConfabQualityReport reports[CONFAB_QUALITY_MAX_RECEIVERS];
  gint64 congestion_until_us;
  gint64 bad_since_us;  /* -1: conditions are not bad now */
  gint64 good_since_us; /* -1: conditions are not good now */
  gint64 last_step_us;
} ConfabQuality;

/* Levels for a camera asked to send at most @width x @height at @fps: each
 * tier capped by that (same aspect, never larger), the bitrate scaled with
 * what was cut; levels that would not be lower than the previous are left
 * out. Starts at the first level, as of @now_us. */
void confab_quality_init (ConfabQuality *self, int width, int height, int fps, gint64 now_us);

/* One receiver's latest reception of our video, as ratios of what it got to
 * what we sent over the same second. */
void confab_quality_report (
    ConfabQuality *self, guint64 receiver, double fps_ratio, double bitrate_ratio, gint64 now_us);
/* A receiver no longer counts (it left). */
void confab_quality_forget (ConfabQuality *self, guint64 receiver);
/* The relay dropped our packets for a receiver (CONGESTION addressed to us). */
void confab_quality_congestion (ConfabQuality *self, gint64 now_us);

/* Applies the rule at @now_us; returns the change, or START when the level
 * stays (call it on every report and at confab_quality_next_update()). */
ConfabQualityChange confab_quality_update (ConfabQuality *self, gint64 now_us);

/* When confab_quality_update() next may change something without a new
 * report (a pending step, evidence expiring), or -1: callers arm one timer
 * for it instead of polling. */
gint64 confab_quality_next_update (const ConfabQuality *self, gint64 now_us);

const ConfabQualityLevel *confab_quality_get_level (const ConfabQuality *self);

G_END_DECLS
