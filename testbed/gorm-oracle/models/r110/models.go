// Package r110 declares the schema-relevant shape of the API's models at v1.0.0/v1.1.0,
// written from docs (shared/design/app.md §1.3, §2.1), not copied from upstream.
// Only fields that become columns, indexes or FK constraints are declared.
package r110

import (
	"time"

	"gorm.io/gorm"
)

type Publisher struct {
	ID            string        `gorm:"primaryKey"`
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
	PublisherID *string   ``
	CreatedAt   time.Time `gorm:"index"`
	UpdatedAt   time.Time
}

func (CodeHosting) TableName() string { return "publishers_code_hosting" }

type Software struct {
	ID string `gorm:"primaryKey"`
	// Points at the main software_urls row; GORM derives no FK from it (app.md §1.6).
	SoftwareURLID string        `gorm:"uniqueIndex;not null"`
	URL           SoftwareURL   // has-one through software_urls.software_id -> fk_software_url
	Aliases       []SoftwareURL // has-many through software_urls.software_id -> fk_software_aliases
	PubliccodeYml string
	Active        *bool `gorm:"default:true;not null"`
	Vitality      *string
	CreatedAt     time.Time `gorm:"index"`
	UpdatedAt     time.Time
}

func (Software) TableName() string { return "software" }

type SoftwareURL struct {
	ID         string    `gorm:"primaryKey"`
	URL        string    `gorm:"uniqueIndex"`
	SoftwareID string    `gorm:"not null"`
	CreatedAt  time.Time `gorm:"index"`
	UpdatedAt  time.Time
}

type Webhook struct {
	ID         string    `gorm:"primaryKey"`
	URL        string    `gorm:"uniqueIndex:idx_webhook_url"`
	Secret     string    ``
	CreatedAt  time.Time `gorm:"index"`
	UpdatedAt  time.Time
	EntityID   string `gorm:"uniqueIndex:idx_webhook_url"`
	EntityType string `gorm:"uniqueIndex:idx_webhook_url"`
}

type Event struct {
	ID         string `gorm:"primaryKey"`
	Type       string
	EntityType string
	EntityID   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DeletedAt  gorm.DeletedAt `gorm:"index"`
}

type Log struct {
	ID         string    `gorm:"primaryKey"`
	Message    string    `gorm:"not null"`
	CreatedAt  time.Time `gorm:"index"`
	UpdatedAt  time.Time
	DeletedAt  gorm.DeletedAt `gorm:"index"`
	EntityID   *string
	EntityType *string
	Entity     string `gorm:"->;type:text GENERATED ALWAYS AS (CASE WHEN entity_id IS NULL THEN NULL ELSE ('/' || entity_type || '/' || entity_id) END) STORED;default:(-)"`
}
