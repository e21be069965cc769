/* confab-chat-panel.c: the chat side panel: a list of messages that keeps
 * the newest in view, and the entry below it. */
#define G_LOG_DOMAIN "confab-chat-panel"

#include "confab-chat-panel.h"

#include <glib/gi18n.h>

struct _ConfabChatPanel
{
  GtkBox parent_instance;

  /* Borrowed (children) */
  GtkScrolledWindow *scroller;
  GtkListBox *list;
  GtkEntry *entry;
  GtkLabel *error_label;

  guint n_messages;
  /* Follow new messages unless the reader scrolled up to older ones. */
  gboolean stick_to_bottom;
};

G_DEFINE_FINAL_TYPE (ConfabChatPanel, confab_chat_panel, GTK_TYPE_BOX)

enum
{
  SIGNAL_SEND,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GtkWidget *
message_row (const char *name, const char *text, gboolean own, GDateTime *time)
{
  g_autoptr (GDateTime) now = time == NULL ? g_date_time_new_now_local () : NULL;
  g_autofree char *clock = g_date_time_format (time != NULL ? time : now, "%H:%M");
  g_autofree char *spoken = NULL;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *name_label = gtk_label_new (own ? _ ("You") : name);
  GtkWidget *time_label = gtk_label_new (clock);
  GtkWidget *text_label = gtk_label_new (text);
  GtkWidget *row = gtk_list_box_row_new ();

  gtk_label_set_ellipsize (GTK_LABEL (name_label), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (name_label), 20);
  gtk_label_set_xalign (GTK_LABEL (name_label), 0);
  gtk_widget_add_css_class (name_label, "heading");
  gtk_widget_add_css_class (time_label, "dim-label");
  gtk_widget_add_css_class (time_label, "caption");
  gtk_box_append (GTK_BOX (header), name_label);
  gtk_box_append (GTK_BOX (header), time_label);

  /* Plain text: a message is never markup, and long words must not widen
   * the panel. */
  gtk_label_set_use_markup (GTK_LABEL (text_label), FALSE);
  gtk_label_set_wrap (GTK_LABEL (text_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (text_label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (text_label), 0);
  /* Wrapped labels ask for their whole text's width: cap it, or one long
   * message would widen the panel over the grid. */
  gtk_label_set_max_width_chars (GTK_LABEL (text_label), 24);
  gtk_label_set_width_chars (GTK_LABEL (text_label), 1);
  gtk_label_set_selectable (GTK_LABEL (text_label), TRUE);
  gtk_widget_set_focusable (text_label, FALSE);

  gtk_box_append (GTK_BOX (box), header);
  gtk_box_append (GTK_BOX (box), text_label);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  if (own)
    gtk_widget_add_css_class (row, "chat-own");

  /* A screen reader reads the whole message as one row. */
  /* Translators: a chat message read by a screen reader: name, time, text. */
  spoken = g_strdup_printf (_ ("%s at %s: %s"), own ? _ ("You") : name, clock, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, spoken, -1);
  return row;
}

static void
on_upper_changed (GtkAdjustment *adjustment, GParamSpec *pspec, ConfabChatPanel *self)
{
  if (self->stick_to_bottom)
    gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) -
                                              gtk_adjustment_get_page_size (adjustment));
}

static void
on_value_changed (GtkAdjustment *adjustment, ConfabChatPanel *self)
{
  double bottom = gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment);

  self->stick_to_bottom = gtk_adjustment_get_value (adjustment) >= bottom - 8;
}

void
confab_chat_panel_add_message (
    ConfabChatPanel *self, const char *name, const char *text, gboolean own, GDateTime *time)
{
  g_return_if_fail (CONFAB_IS_CHAT_PANEL (self));
  g_return_if_fail (name != NULL && text != NULL);

  gtk_list_box_append (self->list, message_row (name, text, own, time));
  self->n_messages++;
  /* What we send ourselves is always brought into view. */
  if (own)
    self->stick_to_bottom = TRUE;
}

void
confab_chat_panel_show_error (ConfabChatPanel *self, const char *message)
{
  g_return_if_fail (CONFAB_IS_CHAT_PANEL (self));
  gtk_label_set_text (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

void
confab_chat_panel_clear (ConfabChatPanel *self)
{
  GtkListBoxRow *row;

  g_return_if_fail (CONFAB_IS_CHAT_PANEL (self));
  while ((row = gtk_list_box_get_row_at_index (self->list, 0)) != NULL)
    gtk_list_box_remove (self->list, GTK_WIDGET (row));
  self->n_messages = 0;
  self->stick_to_bottom = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  confab_chat_panel_show_error (self, NULL);
}

guint
confab_chat_panel_get_n_messages (ConfabChatPanel *self)
{
  g_return_val_if_fail (CONFAB_IS_CHAT_PANEL (self), 0);
  return self->n_messages;
}

void
confab_chat_panel_focus_entry (ConfabChatPanel *self)
{
  g_return_if_fail (CONFAB_IS_CHAT_PANEL (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->entry));
}

static void
send_text (ConfabChatPanel *self)
{
  g_autofree char *text = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->entry)));
  gboolean sent = FALSE;

  g_strstrip (text);
  if (*text == '\0')
    return;
  g_signal_emit (self, signals[SIGNAL_SEND], 0, text, &sent);
  if (!sent)
    return;
  confab_chat_panel_show_error (self, NULL);
  confab_chat_panel_add_message (self, "", text, TRUE, NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
}

static void
on_entry_activate (GtkEntry *entry, ConfabChatPanel *self)
{
  send_text (self);
}

static void
on_send_clicked (GtkButton *button, ConfabChatPanel *self)
{
  send_text (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->entry));
}

static void
on_text_changed (GtkEditable *editable, GParamSpec *pspec, GtkWidget *send_button)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (editable)));

  gtk_widget_set_sensitive (send_button, *text != '\0');
}

GtkWidget *
confab_chat_panel_new (void)
{
  return g_object_new (CONFAB_TYPE_CHAT_PANEL, NULL);
}

static void
confab_chat_panel_class_init (ConfabChatPanelClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  signals[SIGNAL_SEND] = g_signal_new ("send", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       g_signal_accumulator_true_handled, NULL, NULL,
                                       G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  gtk_widget_class_set_css_name (widget_class, "chat-panel");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
confab_chat_panel_init (ConfabChatPanel *self)
{
  GtkWidget *placeholder = gtk_label_new (_ ("No messages yet"));
  GtkWidget *entry_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *send_button = gtk_button_new_from_icon_name ("mail-send-symbolic");
  GtkAdjustment *adjustment;

  self->stick_to_bottom = TRUE;
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Chat"),
                                  -1);

  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_widget_set_margin_top (placeholder, 24);
  gtk_widget_set_valign (placeholder, GTK_ALIGN_START);
  gtk_list_box_set_placeholder (self->list, placeholder);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "chat-list");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Messages"), -1);

  self->scroller = GTK_SCROLLED_WINDOW (gtk_scrolled_window_new ());
  gtk_scrolled_window_set_policy (self->scroller, GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (self->scroller, GTK_WIDGET (self->list));
  gtk_widget_set_vexpand (GTK_WIDGET (self->scroller), TRUE);
  adjustment = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect (adjustment, "notify::upper", G_CALLBACK (on_upper_changed), self);
  g_signal_connect (adjustment, "value-changed", G_CALLBACK (on_value_changed), self);
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->scroller));

  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_label_set_xalign (self->error_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_margin_start (GTK_WIDGET (self->error_label), 12);
  gtk_widget_set_margin_end (GTK_WIDGET (self->error_label), 12);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->error_label));

  self->entry = GTK_ENTRY (gtk_entry_new ());
  gtk_editable_set_width_chars (GTK_EDITABLE (self->entry), 8);
  gtk_widget_set_hexpand (GTK_WIDGET (self->entry), TRUE);
  gtk_entry_set_placeholder_text (self->entry, _ ("Message"));
  /* Characters, not bytes: the 4 KiB bound itself is checked on send. */
  gtk_entry_set_max_length (self->entry, 4096);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Message"), -1);
  g_signal_connect (self->entry, "activate", G_CALLBACK (on_entry_activate), self);

  gtk_widget_set_tooltip_text (send_button, _ ("Send"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (send_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Send"), -1);
  gtk_widget_add_css_class (send_button, "suggested-action");
  gtk_widget_set_sensitive (send_button, FALSE);
  g_signal_connect (send_button, "clicked", G_CALLBACK (on_send_clicked), self);
  g_signal_connect (self->entry, "notify::text", G_CALLBACK (on_text_changed), send_button);

  gtk_box_append (GTK_BOX (entry_box), GTK_WIDGET (self->entry));
  gtk_box_append (GTK_BOX (entry_box), send_button);
  gtk_widget_set_margin_top (entry_box, 6);
  gtk_widget_set_margin_bottom (entry_box, 12);
  gtk_widget_set_margin_start (entry_box, 12);
  gtk_widget_set_margin_end (entry_box, 12);
  gtk_box_append (GTK_BOX (self), entry_box);
}
