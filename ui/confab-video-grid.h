/* confab-video-grid.h: the participant grid. One GtkGLArea (one GL context)
 * draws every tile's I420 video (three R8 textures per tile, updated in
 * place, YUV→RGB in a shader, letterboxed, the self-view mirrored); each tile's
 * overlays are an ordinary ConfabParticipantTile widget above it. Tiles are
 * laid out by confab-grid-layout: a grid, or the speaker view (the pinned or
 * active speaker large, the others in a strip). Pictures are pulled on the
 * frame clock, at full rate only for tiles on screen; hidden tiles' video is
 * decoded at key frames only (confab_video_grid_set_cover()). */
#pragma once

#include "confab-call-session.h"
#include "confab-participant-tile.h"
#include "confab-video-frame.h"

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_VIDEO_GRID (confab_video_grid_get_type ())
G_DECLARE_FINAL_TYPE (ConfabVideoGrid, confab_video_grid, CONFAB, VIDEO_GRID, GtkWidget)

/* The newest picture not yet taken, or NULL. (transfer full) */
typedef ConfabVideoFrame *(*ConfabVideoTakeFunc) (gpointer user_data, guint64 id);

GtkWidget *confab_video_grid_new (void);

/* A tile for @id (ignored when there is one). @mirror: the self-view. */
ConfabParticipantTile *
confab_video_grid_add (ConfabVideoGrid *self, guint64 id, const char *name, gboolean mirror);
void confab_video_grid_remove (ConfabVideoGrid *self, guint64 id);
void confab_video_grid_clear (ConfabVideoGrid *self);
guint confab_video_grid_get_n_tiles (ConfabVideoGrid *self);
/* (transfer none) NULL when there is no such tile. */
ConfabParticipantTile *confab_video_grid_lookup (ConfabVideoGrid *self, guint64 id);

/* Where a tile's pictures come from: pulled with @take on the frame clock
 * (@take_data must outlive the tile or be cleared with NULL), or pushed with
 * confab_video_grid_push_frame(); the newest one wins either way. */
void confab_video_grid_set_source (ConfabVideoGrid *self,
                                   guint64 id,
                                   ConfabVideoTakeFunc take,
                                   gpointer take_data);
void confab_video_grid_push_frame (ConfabVideoGrid *self, guint64 id, ConfabVideoFrame *frame);
/* Off: the avatar instead of the last picture. */
void confab_video_grid_set_video_enabled (ConfabVideoGrid *self, guint64 id, gboolean enabled);

void confab_video_grid_set_speaker_view (ConfabVideoGrid *self, gboolean speaker_view);
gboolean confab_video_grid_get_speaker_view (ConfabVideoGrid *self);
/* The large tile in speaker view when nobody is pinned. */
void confab_video_grid_set_active_speaker (ConfabVideoGrid *self, guint64 id);
/* Pinning shows @id large (speaker view); pinning it again, or
 * confab_video_grid_unpin(), goes back. Action "grid.pin" (t) does the same. */
void confab_video_grid_pin (ConfabVideoGrid *self, guint64 id);
void confab_video_grid_unpin (ConfabVideoGrid *self);
/* Whether the grid offers its own Speaker View toggle (not on pre-join). */
void confab_video_grid_set_show_view_toggle (ConfabVideoGrid *self, gboolean show);

/* The grid of a call: a tile for us (mirrored, our camera) once joined and
 * for everyone in the room, their pictures, camera-off avatars, muted
 * microphones and link quality kept current. NULL unbinds and clears. */
#define CONFAB_VIDEO_GRID_SELF_ID G_MAXUINT64
void confab_video_grid_bind_session (ConfabVideoGrid *self, ConfabCallSession *session);

/* A widget over the grid (a folded side panel slid open), or NULL: tiles
 * wholly under it count as hidden. With the layout's hidden tiles (speaker
 * view's strip overflow) and the window (not mapped, minimized) this decides
 * which participants' video the session decodes at full rate: a tile hidden
 * for HIDE_DELAY_US is decoded at key frames only, one shown again is at
 * full rate from the key frame asked for at once. */
void confab_video_grid_set_cover (ConfabVideoGrid *self, GtkWidget *cover);
/* Whether @id's video is decoded at full rate now (tests). */
gboolean confab_video_grid_get_video_wanted (ConfabVideoGrid *self, guint64 id);

/* Pictures uploaded to the GPU for @id so far (tests, diagnostics). */
guint64 confab_video_grid_get_frames_shown (ConfabVideoGrid *self, guint64 id);

G_END_DECLS
