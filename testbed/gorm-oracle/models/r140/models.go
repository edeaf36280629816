// Package r140: v1.4.0 (= main at b11ad14): catalogs.analysis jsonb. Every other model is as in r130.
package r140

import (
	"time"

	"local/gorm-oracle/models/r120"
)

type Catalog struct {
	ID                  string               `gorm:"primaryKey"`
	Name                string               `gorm:"not null"`
	AlternativeID       *string              `gorm:"uniqueIndex"`
	Active              *bool                `gorm:"default:true;not null"`
	PublishersNamespace *string              ``
	Scopes              []string             `gorm:"serializer:json"`
	Analysis            r120.AnalysisData    `gorm:"type:jsonb;serializer:json"`
	Sources             []r120.CatalogSource `gorm:"constraint:OnUpdate:CASCADE,OnDelete:CASCADE"`
	CreatedAt           time.Time            `gorm:"index"`
	UpdatedAt           time.Time
}
