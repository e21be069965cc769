/* confab-picture-scaler.h: a decoded I420 picture turned into the packed
 * BGR24 the video grid hands GTK on its CPU path (ConfabVideoGrid), at the
 * size it is shown at. GTK-free, so its unit test builds without GTK. */
#pragma once

#include "confab-video-frame.h"

G_BEGIN_DECLS

typedef struct _ConfabPictureScaler ConfabPictureScaler;

ConfabPictureScaler *confab_picture_scaler_new (void);
void confab_picture_scaler_free (ConfabPictureScaler *scaler);

/* The bytes per row (*@stride) and in all that a @width x @height BGR24
 * picture needs: each row, the last included, has room after its width
 * for libswscale's block-sized writes. */
gsize confab_picture_scaler_bgr_size (int width, int height, int *stride);

/* @frame converted into @dst (@stride bytes per row, at least
 * confab_picture_scaler_bgr_size()'s) at @width x @height: at its own size
 * when that is its size, otherwise scaled in two steps (YUV to YUV, then
 * the unscaled SIMD YUV to BGR24; the scaler keeps the scaled planes
 * between pictures). FALSE for an empty size or when libswscale cannot. */
gboolean confab_picture_scaler_convert (ConfabPictureScaler *scaler,
                                        const ConfabVideoFrame *frame,
                                        int width,
                                        int height,
                                        guint8 *dst,
                                        int stride);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabPictureScaler, confab_picture_scaler_free)

G_END_DECLS
