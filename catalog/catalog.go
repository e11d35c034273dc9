// Package catalog holds a deployment's catalogue: the case categories (一模块) and the
// departments (承办单位) with their Chinese and English names, so that every page and export shows
// names where events carry codes. It is read from a YAML or CSV file checked row by row (every
// problem named by file and line); without one, the built-in catalogue is today's categories and
// the demo's departments. The category "unmapped" is always present.
package catalog

import (
	"slices"
	"sync/atomic"

	"zhili/event"
)

// Category is one case category. Parent, when set, is the code of the category it refines.
type Category struct {
	Code   string `json:"code" yaml:"code"`
	Zh     string `json:"zh" yaml:"zh"`
	En     string `json:"en,omitempty" yaml:"en,omitempty"`
	Parent string `json:"parent,omitempty" yaml:"parent,omitempty"`
	Color  string `json:"color,omitempty" yaml:"color,omitempty"` // #rgb or #rrggbb
}

// Department is one handling unit: a department, a township or a community.
type Department struct {
	Code   string `json:"code" yaml:"code"`
	Zh     string `json:"zh" yaml:"zh"`
	En     string `json:"en,omitempty" yaml:"en,omitempty"`
	Kind   string `json:"kind,omitempty" yaml:"kind,omitempty"`     // 市直部门, 县直部门, 乡镇街道, 村社区…
	Parent string `json:"parent,omitempty" yaml:"parent,omitempty"` // code of the unit it belongs to
	Region string `json:"region,omitempty" yaml:"region,omitempty"` // code of the region it serves
}

// Unmapped is the category of a report whose source category has no code: always in a
// catalogue, accepted by every deployment.
var Unmapped = Category{Code: event.CategoryUnmapped, Zh: "未归类", En: "Unmapped"}

// Catalog is a checked catalogue. It is never changed once built: a new file makes a new one.
type Catalog struct {
	Categories  []Category   `json:"categories" yaml:"categories"`
	Departments []Department `json:"departments" yaml:"departments"`
	cats        map[string]int
	depts       map[string]int
}

// build indexes the entries and adds Unmapped when missing.
func build(cats []Category, depts []Department) *Catalog {
	if depts == nil {
		depts = []Department{}
	}
	c := &Catalog{Categories: cats, Departments: depts, cats: map[string]int{}, depts: map[string]int{}}
	if !slices.ContainsFunc(cats, func(x Category) bool { return x.Code == event.CategoryUnmapped }) {
		c.Categories = append(slices.Clip(cats), Unmapped)
	}
	for i, x := range c.Categories {
		c.cats[x.Code] = i
	}
	for i, x := range c.Departments {
		c.depts[x.Code] = i
	}
	return c
}

// Default is the built-in catalogue: the contract's categories (event.DefaultCategories) and the
// demo's departments, with the names the pages have always shown.
func Default() *Catalog {
	return build(slices.Clone(defaultCategories), slices.Clone(defaultDepartments))
}

var defaultCategories = []Category{
	{Code: "dispute", Zh: "矛盾纠纷", En: "Disputes", Color: "#ff8a3d"},
	{Code: "security", Zh: "治安隐患", En: "Security", Color: "#ff4d6d"},
	{Code: "safety", Zh: "安全生产", En: "Work safety", Color: "#ffd23f"},
	{Code: "environment", Zh: "环境卫生", En: "Sanitation", Color: "#2ee59d"},
	{Code: "cityorder", Zh: "市容秩序", En: "City order", Color: "#3fa7ff"},
	{Code: "livelihood", Zh: "民生服务", En: "Livelihood", Color: "#b07cff"},
	{Code: "petition", Zh: "信访", En: "Petitions", Color: "#ff7ad9"},
	Unmapped,
}

var defaultDepartments = []Department{
	{Code: "county.urban-mgmt", Zh: "城管局", En: "Urban Mgmt", Kind: "县直部门"},
	{Code: "county.eco-env", Zh: "生态环境局", En: "Eco-Environment", Kind: "县直部门"},
	{Code: "county.housing", Zh: "住建局", En: "Housing", Kind: "县直部门"},
	{Code: "county.market-reg", Zh: "市场监管局", En: "Market Reg.", Kind: "县直部门"},
	{Code: "county.public-security", Zh: "公安局", En: "Public Security", Kind: "县直部门"},
	{Code: "county.emergency", Zh: "应急管理局", En: "Emergency Mgmt", Kind: "县直部门"},
	{Code: "county.water", Zh: "水利局", En: "Water Resources", Kind: "县直部门"},
}

// Category returns the category of code.
func (c *Catalog) Category(code string) (Category, bool) {
	i, ok := c.cats[code]
	if !ok {
		return Category{}, false
	}
	return c.Categories[i], true
}

// Department returns the department of code.
func (c *Catalog) Department(code string) (Department, bool) {
	i, ok := c.depts[code]
	if !ok {
		return Department{}, false
	}
	return c.Departments[i], true
}

// HasCategory reports whether code is a category of the catalogue (unmapped always is).
func (c *Catalog) HasCategory(code string) bool {
	_, ok := c.cats[code]
	return ok
}

// CategorySet is the set of category codes, for event.Rules.Categories.
func (c *Catalog) CategorySet() map[string]bool {
	m := make(map[string]bool, len(c.Categories))
	for _, x := range c.Categories {
		m[x.Code] = true
	}
	return m
}

// TopCategories are the codes of the categories without a parent, unmapped left out, in the
// catalogue's order: the modules a screen lists even when they have no case.
func (c *Catalog) TopCategories() []string {
	var out []string
	for _, x := range c.Categories {
		if x.Parent == "" && x.Code != event.CategoryUnmapped {
			out = append(out, x.Code)
		}
	}
	return out
}

// CategoryName is the Chinese name of a category, the code itself when unknown.
func (c *Catalog) CategoryName(code string) string {
	if x, ok := c.Category(code); ok {
		return x.Zh
	}
	return code
}

// DeptName is the Chinese name of a department, the code itself when unknown.
func (c *Catalog) DeptName(code string) string {
	if x, ok := c.Department(code); ok {
		return x.Zh
	}
	return code
}

// Live holds the catalogue in force, replaced whole when the file is reloaded.
type Live struct{ p atomic.Pointer[Catalog] }

// NewLive returns a holder of c.
func NewLive(c *Catalog) *Live {
	l := &Live{}
	l.p.Store(c)
	return l
}

// Load is the catalogue in force (the built-in one when l is nil).
func (l *Live) Load() *Catalog {
	if l == nil {
		return Default()
	}
	return l.p.Load()
}

// Store puts c in force.
func (l *Live) Store(c *Catalog) { l.p.Store(c) }
