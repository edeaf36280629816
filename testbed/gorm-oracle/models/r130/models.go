// Package r130: the models that changed in v1.3.0 (catalogs.scopes; indexes on
// publishers_code_hosting.publisher_id, software_urls.software_id and idx_log_entity).
package r130

import (
	"time"

	"gorm.io/gorm"

	"local/gorm-oracle/models/r120"
)

type Catalog struct {
	ID                  string               `gorm:"primaryKey"`
	Name                string               `gorm:"not null"`
	AlternativeID       *string              `gorm:"uniqueIndex"`
	Active              *bool                `gorm:"default:true;not null"`
	PublishersNamespace *string              ``
	Scopes              []string             `gorm:"serializer:json"`
	Sources             []r120.CatalogSource `gorm:"constraint:OnUpdate:CASCADE,OnDelete:CASCADE"`
	CreatedAt           time.Time            `gorm:"index"`
	UpdatedAt           time.Time
}

type Publisher struct {
	ID            string        `gorm:"primaryKey"`
	CatalogID     *string       `gorm:"index"`
	Email         *string       ``
	Description   string        `gorm:"uniqueIndex;not null"`
	CodeHosting   []CodeHosting `gorm:"constraint:OnUpdate:CASCADE,OnDelete:CASCADE"`
	Active        *bool         `gorm:"default:true;not null"`
	AlternativeID *string       `gorm:"uniqueIndex"`
	CreatedAt     time.Time     `gorm:"index"`
	UpdatedAt     time.Time
}

type CodeHosting struct {
	ID          string    `gorm:"primaryKey"`
	URL         string    `gorm:"not null;uniqueIndex"`
	Group       *bool     `gorm:"default:true;not null"`
	PublisherID *string   `gorm:"index"`
	CreatedAt   time.Time `gorm:"index"`
	UpdatedAt   time.Time
}

func (CodeHosting) TableName() string { return "publishers_code_hosting" }

type Software struct {
	ID            string        `gorm:"primaryKey"`
	CatalogID     *string       `gorm:"index"`
	SoftwareURLID string        `gorm:"uniqueIndex;not null"`
	URL           SoftwareURL   // has-one -> fk_software_url
	Aliases       []SoftwareURL // has-many -> fk_software_aliases
	PubliccodeYml string
	Active        *bool `gorm:"default:true;not null"`
	Vitality      *string
	Analysis      r120.AnalysisData `gorm:"type:jsonb;serializer:json"`
	CreatedAt     time.Time         `gorm:"index"`
	UpdatedAt     time.Time
}

func (Software) TableName() string { return "software" }

type SoftwareURL struct {
	ID         string    `gorm:"primaryKey"`
	URL        string    `gorm:"uniqueIndex"`
	SoftwareID string    `gorm:"not null;index"`
	CreatedAt  time.Time `gorm:"index"`
	UpdatedAt  time.Time
}

type Log struct {
	ID         string    `gorm:"primaryKey"`
	Message    string    `gorm:"not null"`
	CreatedAt  time.Time `gorm:"index"`
	UpdatedAt  time.Time
	DeletedAt  gorm.DeletedAt `gorm:"index"`
	EntityID   *string        `gorm:"index:idx_log_entity"`
	EntityType *string        `gorm:"index:idx_log_entity"`
	Entity     string         `gorm:"->;type:text GENERATED ALWAYS AS (CASE WHEN entity_id IS NULL THEN NULL ELSE ('/' || entity_type || '/' || entity_id) END) STORED;default:(-)"`
}
