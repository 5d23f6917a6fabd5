package web

import "net/http"

func (s *Server) scorecardsPage(w http.ResponseWriter, r *http.Request, v *visit) {}
func (s *Server) scorecardPage(w http.ResponseWriter, r *http.Request, v *visit)  {}
func (s *Server) dashboardsPage(w http.ResponseWriter, r *http.Request, v *visit) {}
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, v *visit)  {}
