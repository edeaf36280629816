// Package r120: the models that changed in v1.2.0 (catalogs, catalog_sources,
// catalog_id columns, software.analysis). Unchanged models come from r110.
package r120

import (
	"time"

	"local/gorm-oracle/models/r110"
)

// AnalysisData is stored as jsonb (an object keyed by namespace).
type AnalysisData map[string]any

type Catalog struct {
	ID                  string          `gorm:"primaryKey"`
	Name                string          `gorm:"not null"`
	AlternativeID       *string         `gorm:"uniqueIndex"`
	Active              *bool           `gorm:"default:true;not null"`
	PublishersNamespace *string         ``
	Sources             []CatalogSource `gorm:"constraint:OnUpdate:CASCADE,OnDelete:CASCADE"`
	CreatedAt           time.Time       `gorm:"index"`
	UpdatedAt           time.Time
}

type CatalogSource struct {
	ID        string    `gorm:"primaryKey"`
	Driver    string    `gorm:"index"`
	URL       string    `gorm:"not null"`
	Args      []string  `gorm:"serializer:json"`
	CatalogID string    `gorm:"not null;index"`
	CreatedAt time.Time `gorm:"index"`
	UpdatedAt time.Time
}

type Publisher struct {
	ID            string             `gorm:"primaryKey"`
	CatalogID     *string            `gorm:"index"`
	Email         *string            ``
	Description   string             `gorm:"uniqueIndex;not null"`
	CodeHosting   []r110.CodeHosting `gorm:"constraint:OnUpdate:CASCADE,OnDelete:CASCADE"`
	Active        *bool              `gorm:"default:true;not null"`
	AlternativeID *string            `gorm:"uniqueIndex"`
	CreatedAt     time.Time          `gorm:"index"`
	UpdatedAt     time.Time
}

type Software struct {
	ID            string  `gorm:"primaryKey"`
	CatalogID     *string `gorm:"index"`
	SoftwareURLID string  `gorm:"uniqueIndex;not null"`
	URL           r110.SoftwareURL
	Aliases       []r110.SoftwareURL
	PubliccodeYml string
	Active        *bool `gorm:"default:true;not null"`
	Vitality      *string
	Analysis      AnalysisData `gorm:"type:jsonb;serializer:json"`
	CreatedAt     time.Time    `gorm:"index"`
	UpdatedAt     time.Time
}

func (Software) TableName() string { return "software" }
