package engine

// Decoding Marathon's group JSON (POST and PUT /v2/groups), and the options the
// API's strict decoding takes.

// DecodeOptions tune UnmarshalApp and DecodeGroupUpdate.
type DecodeOptions struct {
	// AllowUnknown skips members neither Marathon's JSON nor Stride has, instead
	// of rejecting them with ErrUnknownField at their path: the opt-out for
	// clients that send extras. Fields Stride knows but cannot carry
	// (ErrNotSupported) are rejected all the same: dropping them would deploy
	// something else than what was asked for.
	AllowUnknown bool
}

// UnmarshalApp decodes one app as App.UnmarshalJSON does, with options. It does
// not run ApplyDefaults or Validate.
func UnmarshalApp(data []byte, o DecodeOptions) (*App, error) {
	d := decoder{data: data, allowUnknown: o.AllowUnknown}
	app := NewApp("")
	err := d.run(func() {
		if d.peek() != '{' {
			d.typeErr(ErrExpectedObject)
			return
		}
		d.appObject(app)
	})
	if err != nil {
		return nil, err
	}
	if len(d.errs) > 0 {
		return nil, sortFieldErrors(d.errs)
	}
	return app, nil
}

// GroupUpdate is Marathon's group JSON as POST and PUT /v2/groups take it
// (RAML GroupUpdate): a group with the apps and groups it holds, and the two
// special forms, version (roll back to it) and scaleBy (scale every app under
// the group). Ids are kept as written: an app's or a group's id may be relative
// to the group that holds it, which whoever applies the update resolves.
type GroupUpdate struct {
	ID string
	// Apps and Groups are what the group holds; HasApps and HasGroups say
	// whether the member was given (an absent member keeps what the group
	// holds; [] empties it).
	Apps      []*App
	HasApps   bool
	Groups    []*GroupUpdate
	HasGroups bool
	// AppJSON[i] is the JSON of Apps[i] as given (to tell absent fields from
	// defaults).
	AppJSON [][]byte
	// Dependencies are the group's own, as written; HasDependencies likewise.
	Dependencies    []string
	HasDependencies bool
	// EnforceRole is nil when absent.
	EnforceRole *bool
	// ScaleBy is nil when absent.
	ScaleBy *float64
	// Version, when set, asks for a rollback to that version: nothing else of
	// the update applies (Marathon's rule).
	Version string
}

// DecodeGroupUpdate decodes a group update strictly, as UnmarshalApp decodes
// apps: every problem is a FieldError at its JSON pointer ("/groups/0/apps/1/cpus"),
// all of them, sorted; malformed JSON is a *SyntaxError. Apps start from
// NewApp's defaults (ApplyDefaults is not run). Marathon's output-only members
// are accepted and ignored; "pods" only when empty.
func DecodeGroupUpdate(data []byte, o DecodeOptions) (*GroupUpdate, error) {
	d := decoder{data: data, allowUnknown: o.AllowUnknown}
	g := &GroupUpdate{}
	err := d.run(func() {
		if d.peek() != '{' {
			d.typeErr(ErrExpectedObject)
			return
		}
		d.groupObject(g)
	})
	if err != nil {
		return nil, err
	}
	if len(d.errs) > 0 {
		return nil, sortFieldErrors(d.errs)
	}
	return g, nil
}

func (d *decoder) groupObject(g *GroupUpdate) {
	it, _ := d.beginObject(false)
	for {
		key, more := d.nextKey(&it)
		if !more {
			return
		}
		switch string(key) {
		case "id":
			d.strField("id", &g.ID)
		case "apps":
			d.push("apps")
			if ait, ok := d.beginArray(true); ok {
				g.HasApps, g.Apps, g.AppJSON = true, []*App{}, [][]byte{}
				for i := 0; d.nextElem(&ait); i++ {
					d.pushIndex(i)
					if d.peek() == '{' {
						start := d.pos
						a := NewApp("")
						d.appObject(a)
						g.Apps = append(g.Apps, a)
						g.AppJSON = append(g.AppJSON, d.data[start:d.pos])
					} else {
						d.typeErr(ErrExpectedObject)
					}
					d.pop()
				}
			}
			d.pop()
		case "groups":
			d.push("groups")
			if git, ok := d.beginArray(true); ok {
				g.HasGroups, g.Groups = true, []*GroupUpdate{}
				for i := 0; d.nextElem(&git); i++ {
					d.pushIndex(i)
					if d.peek() == '{' {
						sub := &GroupUpdate{}
						d.groupObject(sub)
						g.Groups = append(g.Groups, sub)
					} else {
						d.typeErr(ErrExpectedObject)
					}
					d.pop()
				}
			}
			d.pop()
		case "dependencies":
			d.push("dependencies")
			g.HasDependencies = d.strings(&g.Dependencies) || g.HasDependencies
			d.pop()
		case "enforceRole":
			var b bool
			given := d.peek() == 't' || d.peek() == 'f'
			d.boolField("enforceRole", &b)
			if given {
				g.EnforceRole = &b
			}
		case "scaleBy":
			var f float64
			d.push("scaleBy")
			if d.float(&f) {
				g.ScaleBy = &f
			}
			d.pop()
		case "version":
			d.strField("version", &g.Version)
		case "pods":
			d.push("pods")
			if pit, ok := d.beginArray(true); ok {
				for i := 0; d.nextElem(&pit); i++ {
					d.pushIndex(i)
					d.typeErr(ErrNotSupported)
					d.pop()
				}
			}
			d.pop()
		default:
			d.unknown(key)
		}
	}
}
