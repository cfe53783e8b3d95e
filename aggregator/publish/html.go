package publish

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/storyfeed/storyfeed/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

type pageData struct {
	PageTitle string
	Site      string
	Base      string
	Stories   []storyView
	Story     *storyView
}

func (h *handler) indexPage(r *http.Request) ([]byte, string, time.Time, error) {
	views, newest, err := h.stories(r)
	if err != nil {
		return nil, "", newest, err
	}
	return h.page("index.html", pageData{PageTitle: h.opt.Title, Stories: views}, newest)
}

func (h *handler) storyPage(r *http.Request) ([]byte, string, time.Time, error) {
	sv, err := h.src.Story(r.PathValue("id"))
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrBadID):
		return nil, "", time.Time{}, errNotFound
	case err != nil:
		return nil, "", time.Time{}, err
	}
	v := h.view(&sv)
	return h.page("story.html", pageData{PageTitle: v.Title + " · " + h.opt.Title, Story: &v}, v.Updated)
}

func (h *handler) page(name string, d pageData, mod time.Time) ([]byte, string, time.Time, error) {
	d.Site, d.Base = h.opt.Title, h.opt.BaseURL
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, d); err != nil {
		return nil, "", mod, err
	}
	return b.Bytes(), "text/html; charset=utf-8", mod, nil
}
