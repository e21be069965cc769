/* confab-participants-panel.c: one row per participant (avatar, name,
 * microphone and camera icons); each row's accessible name says all of it,
 * so a screen reader user hears who is muted. */
#define G_LOG_DOMAIN "confab-participants-panel"

#include "confab-participants-panel.h"

#include <glib/gi18n.h>

struct _ConfabParticipantsPanel
{
  GtkBox parent_instance;

  /* Borrowed (children) */
  GtkListBox *list;
  GtkLabel *count_label;

  /* Owned */
  GHashTable *rows; /* guint64 * session → GtkListBoxRow (borrowed from list) */
};

G_DEFINE_FINAL_TYPE (ConfabParticipantsPanel, confab_participants_panel, GTK_TYPE_BOX)

typedef struct
{
  char *name;
  gboolean microphone_on;
  gboolean camera_on;
  AdwAvatar *avatar;
  GtkLabel *name_label;
  GtkImage *microphone_icon;
  GtkImage *camera_icon;
} RowData;

static void
row_data_free (gpointer data)
{
  RowData *row_data = data;

  g_free (row_data->name);
  g_free (row_data);
}

static void
update_row (GtkWidget *row, RowData *data, gboolean self_row)
{
  g_autofree char *shown =
      self_row ? g_strdup_printf (_ ("%s (You)"), data->name) : g_strdup (data->name);
  g_autofree char *spoken = NULL;

  adw_avatar_set_text (data->avatar, data->name);
  gtk_label_set_text (data->name_label, shown);
  gtk_image_set_from_icon_name (data->microphone_icon, data->microphone_on
                                                           ? "audio-input-microphone-symbolic"
                                                           : "microphone-disabled-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (data->microphone_icon),
                               data->microphone_on ? _ ("Microphone on") : _ ("Microphone off"));
  gtk_image_set_from_icon_name (data->camera_icon, data->camera_on ? "camera-web-symbolic"
                                                                   : "camera-disabled-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (data->camera_icon),
                               data->camera_on ? _ ("Camera on") : _ ("Camera off"));
  gtk_widget_set_opacity (GTK_WIDGET (data->microphone_icon), data->microphone_on ? 1.0 : 0.55);
  gtk_widget_set_opacity (GTK_WIDGET (data->camera_icon), data->camera_on ? 1.0 : 0.55);

  /* Translators: a participant as a screen reader reads it: name, then the
   * microphone and camera state ("Microphone on" or "Microphone off", …). */
  spoken = g_strdup_printf (_ ("%s, %s, %s"), shown,
                            data->microphone_on ? _ ("Microphone on") : _ ("Microphone off"),
                            data->camera_on ? _ ("Camera on") : _ ("Camera off"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, spoken, -1);
}

static GtkWidget *
new_row (const char *name)
{
  RowData *data = g_new0 (RowData, 1);
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);

  data->name = g_strdup (name);
  data->microphone_on = TRUE;
  data->camera_on = TRUE;
  data->avatar = ADW_AVATAR (adw_avatar_new (32, name, TRUE));
  data->name_label = GTK_LABEL (gtk_label_new (name));
  gtk_label_set_ellipsize (data->name_label, PANGO_ELLIPSIZE_END);
  gtk_label_set_xalign (data->name_label, 0);
  gtk_widget_set_hexpand (GTK_WIDGET (data->name_label), TRUE);
  data->microphone_icon = GTK_IMAGE (gtk_image_new ());
  data->camera_icon = GTK_IMAGE (gtk_image_new ());

  gtk_box_append (GTK_BOX (box), GTK_WIDGET (data->avatar));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (data->name_label));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (data->microphone_icon));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (data->camera_icon));
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  g_object_set_data_full (G_OBJECT (row), "confab-participant", data, row_data_free);
  return row;
}

static void
update_count (ConfabParticipantsPanel *self)
{
  guint n = g_hash_table_size (self->rows);
  g_autofree char *text = g_strdup_printf (ngettext ("%u Participant", "%u Participants", n), n);

  gtk_label_set_text (self->count_label, text);
}

void
confab_participants_panel_add (ConfabParticipantsPanel *self, guint64 session_id, const char *name)
{
  GtkWidget *row;
  RowData *data;
  guint64 *key;

  g_return_if_fail (CONFAB_IS_PARTICIPANTS_PANEL (self));
  g_return_if_fail (name != NULL);

  row = g_hash_table_lookup (self->rows, &session_id);
  if (row != NULL)
    {
      data = g_object_get_data (G_OBJECT (row), "confab-participant");
      g_free (data->name);
      data->name = g_strdup (name);
      update_row (row, data, session_id == 0);
      gtk_list_box_invalidate_sort (self->list);
      return;
    }
  row = new_row (name);
  g_object_set_data (G_OBJECT (row), "confab-session", GSIZE_TO_POINTER (session_id == 0));
  update_row (row, g_object_get_data (G_OBJECT (row), "confab-participant"), session_id == 0);
  key = g_new (guint64, 1);
  *key = session_id;
  g_hash_table_insert (self->rows, key, row);
  gtk_list_box_append (self->list, row);
  update_count (self);
}

void
confab_participants_panel_remove (ConfabParticipantsPanel *self, guint64 session_id)
{
  GtkWidget *row;

  g_return_if_fail (CONFAB_IS_PARTICIPANTS_PANEL (self));
  row = g_hash_table_lookup (self->rows, &session_id);
  if (row == NULL)
    return;
  g_hash_table_remove (self->rows, &session_id);
  gtk_list_box_remove (self->list, row);
  update_count (self);
}

void
confab_participants_panel_set_state (ConfabParticipantsPanel *self,
                                     guint64 session_id,
                                     gboolean microphone_on,
                                     gboolean camera_on)
{
  GtkWidget *row;
  RowData *data;

  g_return_if_fail (CONFAB_IS_PARTICIPANTS_PANEL (self));
  row = g_hash_table_lookup (self->rows, &session_id);
  if (row == NULL)
    return;
  data = g_object_get_data (G_OBJECT (row), "confab-participant");
  if (data->microphone_on == !!microphone_on && data->camera_on == !!camera_on)
    return;
  data->microphone_on = !!microphone_on;
  data->camera_on = !!camera_on;
  update_row (row, data, session_id == 0);
}

const char *
confab_participants_panel_get_name (ConfabParticipantsPanel *self, guint64 session_id)
{
  GtkWidget *row;
  RowData *data;

  g_return_val_if_fail (CONFAB_IS_PARTICIPANTS_PANEL (self), NULL);
  row = g_hash_table_lookup (self->rows, &session_id);
  if (row == NULL)
    return NULL;
  data = g_object_get_data (G_OBJECT (row), "confab-participant");
  return data->name;
}

void
confab_participants_panel_clear (ConfabParticipantsPanel *self)
{
  GHashTableIter iter;
  guint64 *key;
  GtkWidget *row;

  g_return_if_fail (CONFAB_IS_PARTICIPANTS_PANEL (self));
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &row))
    {
      if (*key == 0)
        continue;
      gtk_list_box_remove (self->list, row);
      g_hash_table_iter_remove (&iter);
    }
  update_count (self);
}

guint
confab_participants_panel_get_n_participants (ConfabParticipantsPanel *self)
{
  g_return_val_if_fail (CONFAB_IS_PARTICIPANTS_PANEL (self), 0);
  return g_hash_table_size (self->rows);
}

/* Us first, then by name. */
static int
sort_rows (GtkListBoxRow *a, GtkListBoxRow *b, gpointer user_data)
{
  gboolean a_self = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (a), "confab-session"));
  gboolean b_self = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (b), "confab-session"));
  RowData *a_data = g_object_get_data (G_OBJECT (a), "confab-participant");
  RowData *b_data = g_object_get_data (G_OBJECT (b), "confab-participant");

  if (a_self != b_self)
    return a_self ? -1 : 1;
  return g_utf8_collate (a_data->name, b_data->name);
}

GtkWidget *
confab_participants_panel_new (void)
{
  return g_object_new (CONFAB_TYPE_PARTICIPANTS_PANEL, NULL);
}

static void
confab_participants_panel_finalize (GObject *object)
{
  ConfabParticipantsPanel *self = CONFAB_PARTICIPANTS_PANEL (object);

  g_clear_pointer (&self->rows, g_hash_table_unref);
  G_OBJECT_CLASS (confab_participants_panel_parent_class)->finalize (object);
}

static void
confab_participants_panel_class_init (ConfabParticipantsPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = confab_participants_panel_finalize;
  gtk_widget_class_set_css_name (widget_class, "participants-panel");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
confab_participants_panel_init (ConfabParticipantsPanel *self)
{
  GtkWidget *scroller = gtk_scrolled_window_new ();

  self->rows = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Participants"), -1);

  self->count_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->count_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->count_label), "dim-label");
  gtk_widget_set_margin_start (GTK_WIDGET (self->count_label), 12);
  gtk_widget_set_margin_top (GTK_WIDGET (self->count_label), 6);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->count_label), 6);
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->count_label));

  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_list_box_set_sort_func (self->list, sort_rows, NULL, NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Participants"), -1);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->list));
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_box_append (GTK_BOX (self), scroller);
  update_count (self);
}
